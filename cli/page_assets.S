/* SPDX-License-Identifier: MIT */
/* Embeds the HTML pages' style and scripts (cli/page/) into idsrctl: data, not code. */
	.section .rodata
	.macro asset name, file
	.global idsr_page_\name
	.global idsr_page_\name\()_end
idsr_page_\name:
	.incbin "\file"
idsr_page_\name\()_end:
	.byte 0
	.endm
	asset css, "cli/page/page.css"
	asset common_js, "cli/page/common.js"
	asset report_js, "cli/page/report.js"
	asset diff_js, "cli/page/diff.js"
	.section .note.GNU-stack,"",@progbits

/* SPDX-License-Identifier: MIT */
/* Embeds data files into the binaries so they need nothing at run time. */
	.section .rodata
	.global idsr_registers_tsv
	.global idsr_registers_tsv_end
idsr_registers_tsv:
	.incbin "data/registers.tsv"
idsr_registers_tsv_end:
	.byte 0
	.global idsr_midr_tsv
	.global idsr_midr_tsv_end
idsr_midr_tsv:
	.incbin "data/midr.tsv"
idsr_midr_tsv_end:
	.byte 0
	.global idsr_schema_sql
	.global idsr_schema_sql_end
idsr_schema_sql:
	.incbin "schema.sql"
idsr_schema_sql_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits

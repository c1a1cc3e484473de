/* SPDX-License-Identifier: MIT */
/* Data files embedded at build time (lib/embed.S): register names, the MIDR table and the schema. */
#ifndef IDSR_EMBED_H
#define IDSR_EMBED_H

extern const char idsr_registers_tsv[], idsr_registers_tsv_end[];
extern const char idsr_midr_tsv[], idsr_midr_tsv_end[];
extern const char idsr_schema_sql[], idsr_schema_sql_end[]; /* NUL-terminated */

#endif

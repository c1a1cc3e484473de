/* SPDX-License-Identifier: MIT */
/* The one number parser: decimal, or hexadecimal after 0x, a digit first. */
#ifndef IDSR_NUMBER_H
#define IDSR_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/* Reads the n bytes at s (no NUL needed) as a number: decimal digits, or 0x
 * (0X) and hexadecimal digits; nothing else, so no blank, no sign, and a
 * leading 0 is decimal, not octal. 0, -EINVAL (not a number) or -ERANGE
 * (above UINT64_MAX); callers check their own maximum. */
int num_parse_u64(const char *s, size_t n, uint64_t *out);

#endif

/*
 * compat.h: feature macros, included first by every .c file so that every translation unit
 * sees the same libc declarations (POSIX 2008 plus the GNU pieces we name explicitly).
 */
#ifndef BOURSE_COMPAT_H
#define BOURSE_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#endif

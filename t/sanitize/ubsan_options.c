/*
 * t/sanitize/ubsan_options.c: preloaded into nginx after libasan by
 * t/sanitize/run.sh.  gcc's libubsan initializes itself at the first
 * report, in a worker, and reads UBSAN_OPTIONS from /proc/self/environ,
 * which nginx has overwritten with the process title by then: UBSan would
 * print without a stack trace to the error log and would reset ASan's
 * log_path too.  This library keeps UBSAN_OPTIONS from the master's start
 * and hands them to libubsan through its __ubsan_default_options hook.
 */

#include <stdlib.h>
#include <string.h>

const char *__ubsan_default_options(void);

static char  ubsan_options[2048];


__attribute__((constructor)) static void
ubsan_options_save(void)
{
    const char  *s;

    s = getenv("UBSAN_OPTIONS");

    if (s != NULL && strlen(s) < sizeof(ubsan_options)) {
        strcpy(ubsan_options, s);
    }
}


const char *
__ubsan_default_options(void)
{
    return ubsan_options;
}

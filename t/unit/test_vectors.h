/*
 * Copyright (C) nginx-acme-server authors
 *
 * Test vectors on disk for the unit tests that read them (test_acme_jwk,
 * test_acme_jws): t/unit/vectors/<name>/<file>.  Each unit test is a
 * program of its own, so the helpers are static here.
 */

#ifndef _TEST_VECTORS_H_INCLUDED_
#define _TEST_VECTORS_H_INCLUDED_


static char  test_vectors[4096] = "t/unit/vectors";


/*
 * Where the vectors are: $ACME_TEST_VECTORS, else ../../t/unit/vectors
 * from the program's directory (build/t/), else t/unit/vectors under the
 * current directory (make test-unit runs from the top).  Call from main().
 */
static void
test_vectors_find(int argc, char **argv)
{
    const char  *env, *slash;

    env = getenv("ACME_TEST_VECTORS");

    if (env != NULL) {
        snprintf(test_vectors, sizeof(test_vectors), "%s", env);

    } else if (argc > 0 && (slash = strrchr(argv[0], '/')) != NULL) {
        snprintf(test_vectors, sizeof(test_vectors),
                 "%.*s/../../t/unit/vectors", (int) (slash - argv[0]),
                 argv[0]);

        if (access(test_vectors, R_OK) != 0) {
            strcpy(test_vectors, "t/unit/vectors");
        }
    }
}


/* t/unit/vectors/<name>/<file> as a new NUL-terminated string (the caller
 * frees it) without one trailing newline; fails the test when unreadable */
static char *
test_vector(const char *name, const char *file)
{
    long    size;
    char   *buf, path[sizeof(test_vectors) + 128];
    FILE   *f;

    snprintf(path, sizeof(path), "%s/%s/%s", test_vectors, name, file);

    f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }

    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);

    buf = malloc(size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, size, f), (size_t) size);
    fclose(f);

    if (size > 0 && buf[size - 1] == '\n') {
        size--;
    }

    buf[size] = '\0';

    return buf;
}


#endif /* _TEST_VECTORS_H_INCLUDED_ */

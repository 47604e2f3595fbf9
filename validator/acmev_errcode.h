/*
 * Copyright (C) nginx-acme-server authors
 *
 * Return codes of the validator daemon (validator/acmev_*.c).  Every
 * function returns ACMEV_OK or one of the negative codes below.
 */

#ifndef ACMEV_ERRCODE_H
#define ACMEV_ERRCODE_H


#define ACMEV_OK         0
#define ACMEV_ERROR     -1   /* internal failure, already logged */
#define ACMEV_ENOMEM    -2   /* allocation failed */
#define ACMEV_EINVAL    -3   /* bad argument or configuration */
#define ACMEV_EIO       -4   /* file or system call failed */
#define ACMEV_ESTORE    -5   /* PostgreSQL or Redis unreachable: retry */
#define ACMEV_EFAILED   -6   /* a check ran and failed: problem filled in */


#endif /* ACMEV_ERRCODE_H */

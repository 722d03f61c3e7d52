#ifndef PV_MIGRATIONS_H
#define PV_MIGRATIONS_H

/* catalog_migrations[i] takes the schema from version i to i+1. */
extern const char *const catalog_migrations[];
extern const int catalog_migrations_count;

#endif

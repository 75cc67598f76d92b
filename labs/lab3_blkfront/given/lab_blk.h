/*
 * Lab 3: what main.c (given) and your blkio.c share.
 */
#ifndef LAB_BLK_H
#define LAB_BLK_H

#include "blkfront.h"
#include "gnttab.h"

#define LAB_SECTORS_PER_PAGE    (PAGE_SIZE / BLKFRONT_SECTOR)

/* Read (write = 0) or write (write = 1) the 8 sectors from `sector` to or from the
 * page-aligned `page`, with one request on d's ring: grant the page to the backend,
 * publish the request, notify, wait for the response (a persistent backend keeps the
 * grant: grant each page once). Returns the
 * response's status (BLKIF_RSP_OKAY is 0). */
int lab_blk_rw(struct blkfront *d, int write, uint64_t sector, void *page);

#endif /* LAB_BLK_H */

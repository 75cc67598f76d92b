/*
 * Lab 3: one block request on the blkif ring (README.md).
 */
#include "lab_blk.h"

int lab_blk_rw(struct blkfront *d, int write, uint64_t sector, void *page)
{
    /* TODO: grant, request, push + notify, wait, response, end the grant */
    return BLKIF_RSP_ERROR;
}

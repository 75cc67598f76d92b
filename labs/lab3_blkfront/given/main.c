/*
 * Lab 3 driver (given, do not edit): connects to the first disk (the xenbus handshake
 * of guests/lib/blkfront.c), then uses your lab_blk_rw to read sectors 0-7, write a
 * pattern to sectors 8-15 and read it back.
 */
#include "lab_blk.h"

static struct blkfront disk;
static unsigned char page[PAGE_SIZE] __aligned(PAGE_SIZE);

static uint32_t checksum(const unsigned char *p, unsigned long n)
{
    uint32_t sum = 0;

    while (n--)
        sum = sum * 31 + *p++;
    return sum;
}

static void lab_main(void)
{
    unsigned int devids[1];
    char label[17] = { 0 };
    unsigned long i;
    int rc;

    CHECK(blkfront_list(devids, 1) == 1, "no disk (device/vbd is empty)");
    blkfront_connect(&disk, devids[0]);
    printk("blk: vbd %u connected, %llu sectors\n", devids[0],
           (unsigned long long)disk.sectors);
    rc = lab_blk_rw(&disk, 0, 0, page);
    memcpy(label, page, 16);
    EXPECT(rc == BLKIF_RSP_OKAY, "blk: read of sector 0: status %d", rc)
        && printk("blk: read label \"%s\" checksum %08x\n", label, checksum(page, PAGE_SIZE));
    for (i = 0; i < PAGE_SIZE; i++)
        page[i] = (unsigned char)(i * 13 + 5);
    rc = lab_blk_rw(&disk, 1, LAB_SECTORS_PER_PAGE, page);
    EXPECT(rc == BLKIF_RSP_OKAY, "blk: write of sector 8: status %d", rc)
        && printk("blk: write done\n");
    memset(page, 0, PAGE_SIZE);
    rc = lab_blk_rw(&disk, 0, LAB_SECTORS_PER_PAGE, page);
    for (i = 0; i < PAGE_SIZE && page[i] == (unsigned char)(i * 13 + 5); i++)
        ;
    EXPECT(rc == BLKIF_RSP_OKAY && i == PAGE_SIZE, "blk: read back: status %d, byte %lu"
           " differs", rc, i) && printk("blk: read back OK\n");
    rc = lab_blk_rw(&disk, 0, disk.sectors, page);
    EXPECT(rc == BLKIF_RSP_ERROR, "blk: read past the end: status %d", rc)
        && printk("blk: past the end refused OK\n");
    blkfront_close(&disk);
}

DEFINE_KERNEL("blk", lab_main, 0);

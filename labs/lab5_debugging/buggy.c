/*
 * Lab 5: this kernel crashes. Find out why with gdb (README.md), fix it here, and
 * name the function that does the damage in ANSWERS.txt.
 */
#include "guest.h"

#define NR_SCORES 8

static void report_total(unsigned long total) { printk("debug: total %lu\n", total); }
static void report_best(unsigned long best) { printk("debug: best %lu\n", best); }

static struct {
    unsigned long scores[NR_SCORES];
    void (*report[2])(unsigned long);
} board = { .report = { report_total, report_best } };

__attribute__((noinline)) static void fill_scores(void)
{
    for (unsigned int i = 0; i < NR_SCORES; i++)
        board.scores[i] = (i * 37 + 11) % 100;
}

__attribute__((noinline)) static void normalize_scores(void)
{
    unsigned long max = 0;

    for (unsigned int i = 0; i < NR_SCORES; i++)
        if (board.scores[i] > max)
            max = board.scores[i];
    for (unsigned int i = 0; i <= NR_SCORES; i++)
        board.scores[i] = board.scores[i] * 100 / max;
}

static void lab_main(void)
{
    unsigned long total = 0, best = 0;

    fill_scores();
    normalize_scores();
    for (unsigned int i = 0; i < NR_SCORES; i++) {
        total += board.scores[i];
        if (board.scores[i] > best)
            best = board.scores[i];
    }
    board.report[0](total);
    board.report[1](best);
}

DEFINE_KERNEL("debug", lab_main, 0);

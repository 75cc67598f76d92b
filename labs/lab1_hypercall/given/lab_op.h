/*
 * Lab 1: the lab_op hypercall, as the guest sees it.
 *
 *   long lab_op(unsigned int cmd, const void *buf, unsigned long len)
 *
 *   LABOP_hello  returns LABOP_HELLO_MAGIC (buf and len unused)
 *   LABOP_sum    returns the sum of the len bytes at guest virtual address buf,
 *                each taken as unsigned; -EINVAL if len > LABOP_SUM_MAX,
 *                -EFAULT if any of them is not mapped
 *   LABOP_count  returns how many lab_op calls this domain made before this one
 *   anything else: -ENOSYS
 */
#ifndef LAB_OP_H
#define LAB_OP_H

#define __HYPERVISOR_lab_op     __HYPERVISOR_arch_7     /* 55: unused on x86 Xen */

#define LABOP_hello             0
#define LABOP_sum               1
#define LABOP_count             2

#define LABOP_HELLO_MAGIC       0x1ab
#define LABOP_SUM_MAX           4096

#endif /* LAB_OP_H */

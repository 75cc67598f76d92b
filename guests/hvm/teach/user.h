/* The teaching kernel's system calls (int $0x80: number in EAX, arguments in EBX,
 * ECX, EDX; result in EAX), shared by the kernel and the user programs. */
#ifndef TEACH_USER_H
#define TEACH_USER_H

#define SYS_EXIT   1
#define SYS_WRITE  2
#define SYS_READ   3
#define SYS_SPAWN  4     /* (name, argument) -> pid, or -1 */
#define SYS_WAIT   5     /* (pid) -> its exit status */
#define SYS_GETPID 6
#define SYS_LIST   7     /* (index, name buffer of 20) -> file size, or -1 past the end */
#define SYS_FREAD  8     /* (name, buffer, max) -> bytes read from its start, or -1 */
#define SYS_YIELD  9

#define USER_BASE  0x40000000u
#define USER_SIZE  0x00400000u
#define USER_ARG   (USER_BASE + 0x3FF000u)   /* the argument string, at the top */
#define NAME_MAX   20

#endif

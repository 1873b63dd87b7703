/* The little the firmware needs from the board: text out, an exit status, and the command
 * line the debugger (QEMU's -append) passes. */
#ifndef STREAMIX_CORTEX_M4_BOARD_H
#define STREAMIX_CORTEX_M4_BOARD_H

void board_write(const char* text);
void board_exit(int status) __attribute__((noreturn));
/* Copies the command line into buffer (size bytes, NUL-terminated); its length, or -1. */
int board_command_line(char* buffer, int size);

#endif

/* The little the sensor loop needs from the board: text out, and an exit status. */
#ifndef STREAMIX_CORTEX_M4_BOARD_H
#define STREAMIX_CORTEX_M4_BOARD_H

void board_write(const char* text);
void board_exit(int status) __attribute__((noreturn));

#endif

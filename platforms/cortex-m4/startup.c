/* Cortex-M4 start-up for the MPS2 AN386 board: vector table, reset handler (FPU on,
 * .data copied, .bss zeroed, static constructors), semihosting output and exit. */
#include <stdint.h>

#include "board.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main(void);
void reset_handler(void);

static void fault_handler(void) {
  board_write("HardFault\n");
  board_exit(1);
}

/* The initial stack pointer and 15 handlers; a union keeps C99 types apart. */
typedef union {
  const void* stack;
  void (*handler)(void);
} vector;
#define HANDLER(f) {.handler = (f)}
__attribute__((section(".isr_vector"), used)) static const vector vector_table[16] = {
    {.stack = &_estack},    HANDLER(reset_handler), HANDLER(fault_handler), HANDLER(fault_handler),
    HANDLER(fault_handler), HANDLER(fault_handler), HANDLER(fault_handler), {0},
    {0},                    {0},                    {0},                    HANDLER(fault_handler),
    HANDLER(fault_handler), {0},                    HANDLER(fault_handler), HANDLER(fault_handler)};

void reset_handler(void) {
  /* Full access to the FPU (coprocessors 10 and 11) before any float instruction. */
  *(volatile uint32_t*)0xE000ED88u |= 0xFu << 20;
  __asm volatile("dsb\n isb");
  for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
  for (uint32_t* dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  board_exit(main());
}

/* Semihosting: the debugger (here QEMU) services BKPT 0xAB with r0 = operation, r1 = arg. */
static int semihost(int op, const void* arg) {
  register int r0 __asm("r0") = op;
  register const void* r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void board_write(const char* text) { semihost(0x04 /* SYS_WRITE0 */, text); }

int board_command_line(char* buffer, int size) {
  struct {
    char* buffer;
    int length;
  } block = {buffer, size};
  return semihost(0x15 /* SYS_GET_CMDLINE */, &block) == 0 ? block.length : -1;
}

void board_exit(int status) {
  /* SYS_EXIT: ADP_Stopped_ApplicationExit ends QEMU with status 0, a run-time error with 1. */
  semihost(0x18, (const void*)(uintptr_t)(status == 0 ? 0x20026 : 0x20023));
  for (;;) {
  }
}

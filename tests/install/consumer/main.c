/* Built with the flags pkg-config gives for the installed streamix. */
#include <stdio.h>

#include "streamix/streamix.h"

int main(void) {
  smx_config cfg;
  size_t bytes = 0;
  smx_config_init(&cfg, 4, 3);
  if (smx_model_size(&cfg, &bytes) != SMX_OK || bytes != SMX_MODEL_BYTES(4, 3, 40, 0)) return 1;
  printf("pkg-config consumer: %zu bytes for K=4, D=3\n", bytes);
  return 0;
}

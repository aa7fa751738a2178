/* convert.h — the conversion command of td2hf. */
#ifndef TD_CLI_CONVERT_H
#define TD_CLI_CONVERT_H

int cmd_convert(int argc, char **argv);

#endif

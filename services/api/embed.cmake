# Embed a file as a C byte array: cmake -DIN=<file> -DOUT=<c file> -DNAME=<symbol> -P embed.cmake
# The array is NUL-terminated; <NAME>_len is its length without the NUL.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR len "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN} by embed.cmake; do not edit. */\n"
                  "#include <stddef.h>\n"
                  "extern const unsigned char ${NAME}[];\n"
                  "extern const size_t ${NAME}_len;\n"
                  "const unsigned char ${NAME}[] = {\n${bytes}0x00};\n"
                  "const size_t ${NAME}_len = ${len};\n")

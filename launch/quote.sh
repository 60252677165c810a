# Shell quoting for the launchers (sourced by setup.sh, tpu_pod.sh, slurm.sbatch, local.sh).
# sq WORD: the word as is when it has only safe characters, else in single quotes (a ' inside
#   becomes '\''); any POSIX shell reads it back as exactly WORD.
# show WORD: the same for printing a local command, in double quotes when that reads better (a
#   word with ' but none of " $ ` ! \\ or a newline and no trailing \, e.g. a remote command
#   line: inside double quotes a \ before any other character is itself).
# run CMD...: runs CMD, or with DRY_RUN=1 prints it as one line that a shell would run as is.
sq() {
  local s=$1
  if [[ -n $s && $s =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf '%s' "$s"
  else
    printf "'%s'" "${s//\'/\'\\\'\'}"
  fi
}
show() {
  local s=$1
  if [[ $s == *\'* && $s != *[\"\$\`\!]* && $s != *\\\\* && $s != *\\ && $s != *$'\n'* ]]; then
    printf '"%s"' "$s"
  else
    sq "$s"
  fi
}
show_line() {
  local out= a
  for a in "$@"; do out+="${out:+ }$(show "$a")"; done
  printf '%s\n' "$out"
}
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    show_line "$@"
  else
    "$@"
  fi
}

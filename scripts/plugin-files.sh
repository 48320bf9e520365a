#!/bin/sh
# Lays out a plugin directory: one executable per implemented method, each a
# symlink to the bundled program, which dispatches on its own file name.
#   plugin-files.sh BUNDLE volume|datapath DIR TARGET
# BUNDLE is the program to ask for the method list; TARGET is what the links
# point at, relative to DIR.
set -eu
bundle=$1 kind=$2 dir=$3 target=$4
methods=$(node "$bundle" methods "$kind")
mkdir -p "$dir"
# Drop links for methods that no longer exist.
for f in "$dir"/*; do
  [ -L "$f" ] || continue
  echo "$methods" | grep -qx "$(basename "$f")" || rm -f "$f"
done
for m in $methods; do ln -sfn "$target" "$dir/$m"; done

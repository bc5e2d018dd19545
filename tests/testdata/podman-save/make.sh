#!/usr/bin/env bash
# Write the archives of this directory with podman, as README.md says.
# Run as root (or any user podman works for) from this directory; it uses
# a private podman storage under a temporary directory, not the user's.
set -euo pipefail
out=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
podman=(podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs)

mkdir "$tmp/one" "$tmp/two"
printf 'hello from an image podman saved\n' >"$tmp/one/hello"
printf 'a second image in the same archive\n' >"$tmp/two/hello"
chmod 0644 "$tmp/one/hello" "$tmp/two/hello"
tar --owner=0 --group=0 --numeric-owner --mtime=2024-01-01 -C "$tmp/one" -cf "$tmp/one.tar" hello
tar --owner=0 --group=0 --numeric-owner --mtime=2024-01-01 -C "$tmp/two" -cf "$tmp/two.tar" hello

"${podman[@]}" import -q --change 'CMD ["/hello"]' --change 'LABEL org.example.made-by=podman-save' \
	--message "lodger test image" "$tmp/one.tar" localhost/lodger-podman/hello:v1
"${podman[@]}" import -q --change 'CMD ["/hello"]' "$tmp/two.tar" localhost/lodger-podman/second:v2

rm -rf docker-archive.tar oci-archive.tar multi-image.tar docker-dir oci-dir
"${podman[@]}" save -q --format docker-archive -o docker-archive.tar localhost/lodger-podman/hello:v1
"${podman[@]}" save -q --format oci-archive -o oci-archive.tar localhost/lodger-podman/hello:v1
"${podman[@]}" save -q --format docker-dir -o docker-dir localhost/lodger-podman/hello:v1
"${podman[@]}" save -q --format oci-dir -o oci-dir localhost/lodger-podman/hello:v1
"${podman[@]}" save -q -m --format docker-archive -o multi-image.tar \
	localhost/lodger-podman/hello:v1 localhost/lodger-podman/second:v2

"${podman[@]}" version --format '{{.Client.Version}}' >"$out/podman-version"
"${podman[@]}" images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort >"$out/image-ids"

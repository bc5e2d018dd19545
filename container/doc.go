// Package container is the container's lifecycle as lodger sees it: the
// record in storage, the root filesystem, the files lodger provides in
// /etc, and the foreground run that ties image, storage and runtime
// together. It never prints; the CLI decides what reaches the terminal.
package container

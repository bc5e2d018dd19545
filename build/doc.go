// Package build builds images from Dockerfiles, rootless and without a
// daemon (issue 16).
//
// The Dockerfile is read by BuildKit's own parser packages (parser,
// instructions, shell: the reference grammar and Docker's variable
// expansion), never by a grammar of lodger's. Each stage then runs step by
// step, as Docker's classic builder does:
//
//   - FROM finds or pulls the base image (or starts from nothing for
//     scratch, or from an earlier stage's image);
//   - RUN is a lodger container (container.Run: the same runtime, network,
//     seccomp filter and capabilities as `lodger run`) on the previous
//     step's image; what it changed, without the mount points the runtime
//     made, becomes a layer;
//   - COPY and ADD unpack their sources into a work container's root
//     filesystem, every path resolved inside the context or the image
//     they come from, and its changes become a layer;
//   - the other instructions change only the configuration: an image with
//     no new layer and an empty_layer history entry.
//
// Every step is an image in lodger's storage, with the step's cache key in
// its record: the parent image's ID, the history entry the step writes
// (the instruction with its expanded arguments, and the build arguments a
// RUN sees) and, for COPY and ADD, a digest of the content and metadata of
// what they copy (not of times). A later build whose step has the same key
// reuses the image and starts no container.
package build

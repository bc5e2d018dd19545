// Package transfer moves images between lodger's local store and
// registries or archives, on go.podman.io/image/v5: pulling (short names
// through registries.conf, search registries and mirrors; layers
// streamed, stream.go, or copied, copy.go) from registries and archives,
// pushing, saving and loading archives (archive.go), searching registries
// (search.go) and registry credentials (auth.go).
//
// It reads the same registries.conf, policy.json and auth.json as podman,
// skopeo and buildah, and prints nothing unless image.Options.Progress is
// set. It is apart from package image, the local side, because it links
// containers/image's registry client, copy and signature code (and with
// them ocicrypt, grpc, protobuf, sigstore and OpenPGP): only
// lodger-transfer links it, and lodger hands that binary the commands
// that need it (docs/architecture.md, "Start-up").
package transfer

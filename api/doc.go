// Package api serves the Docker Engine API on a user's socket, so that the
// tools written for Docker (the docker CLI, compose, testcontainers, the
// SDKs) drive lodger without a daemon.
//
// The server owns nothing. Every handler translates a request's JSON into
// the typed options of the same library calls `lodger` makes (container,
// image, volume) and their reports back into the Engine API's own
// types (github.com/moby/moby/api). Containers keep their own monitors:
// what the CLI does, the API sees at once, and the other way round; a
// killed server stops no container.
//
// Errors reach the client as {"message": ...} with the status code
// statusOf picks from the library's sentinel and typed errors, in one
// place (errors.go).
package api

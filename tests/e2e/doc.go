//go:build e2e

// Package e2e drives a built lodger binary the way a user does: as an
// unprivileged user with subordinate id ranges, against a real registry,
// asserting only what that user sees (stdout, stderr, exit codes, files on
// the host).
//
// Every file carries the e2e build tag, so `go test ./...` never compiles
// this package. tests/e2e/run.sh is the one way in, for people and CI alike:
// as root it checks the host (docker-registry, newuidmap, busybox, a test
// user with /etc/subuid and /etc/subgid ranges, /dev/net/tun), starts a
// registry on 127.0.0.1:5000 when none answers, builds lodger,
// lodger-transfer, lodger-monitor, imagegen and this test binary, pushes the test images and runs the tests as the
// unprivileged user lodgertest; as any other user it does the same minus
// the host setup.
//
// The test binary reads:
//
//	LODGER_BIN               absolute path of the lodger binary (required;
//	                         lodger-transfer and lodger-monitor must be
//	                         beside it)
//	LODGER_TEST_REGISTRY     host:port of the plain-http registry holding the
//	                         imagegen test set (default 127.0.0.1:5000)
//	LODGER_TEST_OCI_ARCHIVE  oci-archive written by `imagegen -oci-archive`
//	                         (required by TestPullOCIArchive)
//	LODGER_TEST_DATA         a copy of tests/testdata the test user can read
//	                         (required by TestLoadPodmanSave)
//
// TestMain refuses to run as root and fails, never skips, when the host
// cannot create user namespaces, lacks newuidmap/newgidmap or subordinate
// ids, or cannot open /dev/net/tun: a skipped suite is not a passing suite.
//
// Each lodger invocation gets an environment of its own under a temporary
// directory: HOME, XDG_DATA_HOME (the graph root), XDG_RUNTIME_DIR (the
// session keeper's state), XDG_CONFIG_HOME and TMPDIR. Most tests share one
// such environment so that images are pulled once; tests that assert that
// nothing is left behind, or that change registries.conf or remove images,
// make their own. When an environment is closed its files are removed from
// inside the session user namespace (they belong to subordinate ids) and
// every process started with its XDG_RUNTIME_DIR, the session keeper
// included, is killed.
package e2e

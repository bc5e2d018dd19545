package main

import "fmt"

// nettoolInImage is where the net image has tests/nettool.
const nettoolInImage = "usr/bin/nettool"

// buildNetImage adds net:latest, the image of the network tests: the base
// layer plus the static tests/nettool binary, with an EXPOSE of the ports
// its servers use in the tests, for -P. Without a nettool binary it is
// left out.
func buildNetImage(l *layout, gzBase layer, nettool []byte) error {
	if nettool == nil {
		return nil
	}
	ly, err := l.writeLayer(compressGzip, tarEntries(
		dirEntry("usr", 0o755),
		dirEntry("usr/bin", 0o755),
		fileEntry(nettoolInImage, 0o755, nettool),
	))
	if err != nil {
		return fmt.Errorf("write layer net: %w", err)
	}
	cfg := baseConfig("amd64")
	cfg.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}, "9090/udp": {}}
	d, err := l.writeImage(cfg, []layer{gzBase, ly})
	if err != nil {
		return fmt.Errorf("image net:latest: %w", err)
	}
	l.tag(testRepo+"net:latest", d)
	return nil
}

package main

import "fmt"

// buildVolumeImages adds the image of the mount and volume tests on top
// of the base layer, mounts:latest:
//
//   - /to-root -> / and /to-dotdot -> .. : a mount destination through
//     either must land inside the container's rootfs, never beside it;
//   - /to-tmp -> /tmp : an absolute link, which a runtime resolving on the
//     host would follow to the host's /tmp;
//   - /populated, owned by alice (1000:1000) and 0750, holding a 0640 file,
//     a hardlink and a symlink to it: the content a new volume mounted there
//     must get, owners, modes and links included.
func buildVolumeImages(l *layout, gzBase layer) error {
	const alice = 1000
	ly, err := l.writeLayer(compressGzip, tarEntries(
		symlinkEntry("to-root", "/"),
		symlinkEntry("to-dotdot", ".."),
		symlinkEntry("to-tmp", "/tmp"),
		ownedBy(dirEntry("populated", 0o750), alice, alice),
		// The link target sorts before the link: layers are written in
		// name order.
		ownedBy(fileEntry("populated/file", 0o640, []byte("from the image\n")), alice, alice),
		ownedBy(withMode(hardlinkEntry("populated/hard", "populated/file"), 0o640), alice, alice),
		ownedBy(symlinkEntry("populated/link", "file"), alice, alice),
	))
	if err != nil {
		return fmt.Errorf("write layer mounts: %w", err)
	}
	d, err := l.writeImage(baseConfig("amd64"), []layer{gzBase, ly})
	if err != nil {
		return fmt.Errorf("image mounts:latest: %w", err)
	}
	l.tag(testRepo+"mounts:latest", d)
	return nil
}

// withMode sets an entry's mode; a hardlink's header mode is applied to
// the file it links.
func withMode(e entry, mode int64) entry {
	e.hdr.Mode = mode
	return e
}

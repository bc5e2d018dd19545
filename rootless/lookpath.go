package rootless

import osexec "os/exec"

// lookPath is a variable so that tests can simulate a missing helper.
var lookPath = osexec.LookPath

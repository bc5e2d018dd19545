package monitor

import (
	"fmt"
	"os"
	"path/filepath"
)

// nameFile holds, in the run directory, the name a running container was
// renamed to: the events its monitor writes afterwards (die, health
// status) carry the name it has now, as Docker's do, not the one it had
// at its start. A monitor removes it as it starts: its request has the
// name then.
const nameFile = "name"

// SetName records name as the running container's in runDir.
func SetName(runDir, name string) error {
	tmp := filepath.Join(runDir, "."+nameFile)
	if err := os.WriteFile(tmp, []byte(name), 0o600); err != nil {
		return fmt.Errorf("record the new name: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(runDir, nameFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record the new name: %w", err)
	}
	return nil
}

// currentName is the name SetName left in runDir, or "".
func currentName(runDir string) string {
	if runDir == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(runDir, nameFile))
	if err != nil {
		return ""
	}
	return string(b)
}

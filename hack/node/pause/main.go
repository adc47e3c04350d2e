// Command pause is the pod sandbox's first process: it holds the pod's namespaces open
// while the pod's containers come and go, and does nothing else.
//
// As PID 1 of the pod's PID namespace (when the namespace is shared) it inherits orphaned
// processes, so it reaps every child that exits instead of leaving zombies. SIGINT and
// SIGTERM end it with status 0, which is how the runtime tears the sandbox down. It uses
// only the standard library and is built with CGO_ENABLED=0, so the image needs nothing
// but this one static binary.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pulse-pause 1.0")
		return
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		os.Exit(0)
	}
}

// reap collects every child that has exited; signals coalesce, so one SIGCHLD may stand
// for several children.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

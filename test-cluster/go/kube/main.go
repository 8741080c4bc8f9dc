// Command kube is the test cluster's control plane in one binary, so that the three
// components share one link (the slowest step of the build on a small machine):
//
//	kube kube-apiserver ARGS...           k8s.io/kubernetes/cmd/kube-apiserver
//	kube kube-controller-manager ARGS...  k8s.io/kubernetes/cmd/kube-controller-manager
//	kube kube-scheduler ARGS...           k8s.io/kubernetes/cmd/kube-scheduler
//	kube pki < REQUEST.json               the certificates of one test cluster (pki.go)
//
// Called through a link named after a component (argv[0]), it is that component. Each
// component is the upstream cobra command with the upstream main's imports, so flags,
// defaults and behaviour are the release's own.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // for CronJob time zones, as the upstream mains import it

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// components maps a component's name to its upstream command.
var components = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func usage() string {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	return fmt.Sprintf("usage: kube {%s|pki} [ARGS...]", strings.Join(names, "|"))
}

func main() {
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	if _, ok := components[name]; !ok && name != "pki" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, usage())
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	if name == "pki" {
		if err := runPKI(os.Stdin, args); err != nil {
			fmt.Fprintf(os.Stderr, "kube pki: %v\n", err)
			os.Exit(1)
		}
		return
	}
	newCommand, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "kube: unknown component %q\n%s\n", name, usage())
		os.Exit(2)
	}
	command := newCommand()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}

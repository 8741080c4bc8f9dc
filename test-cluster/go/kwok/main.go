// Command kwok-stages prints, as one YAML stream, the Stages that the test cluster's kwok
// runs with: the set kwokctl gives a cluster whose nodes hold leases, read from kwok's own
// release (its embedded defaults), so that they change with KWOK_VERSION and nothing here
// restates them.
//
//   - node-initialize: a new node becomes Ready, keeping the capacity it was registered with
//   - node-heartbeat-with-lease: its conditions are refreshed while kwok renews its lease
//   - pod-ready: a pod bound to a node runs and is Ready (init containers completed)
//   - pod-complete: a Job's running pod succeeds
//   - pod-delete: a pod being deleted goes away
package main

import (
	"fmt"
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

func main() {
	stages := []string{
		nodefast.DefaultNodeInit,
		nodelease.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
	}
	for i, stage := range stages {
		if i > 0 {
			fmt.Println("---")
		}
		fmt.Println(strings.TrimSpace(stage))
	}
}

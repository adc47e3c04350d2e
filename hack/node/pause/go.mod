module pulse.dev/hack/node/pause

go 1.24

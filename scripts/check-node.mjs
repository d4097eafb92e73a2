// Every npm script runs under the node@22 pinned in devDependencies; fail loudly if it does not.
const major = Number(process.versions.node.split(".")[0])
if (major < 22) {
  console.error(`oompa needs Node >= 22, but npm ran Node ${process.versions.node}. Run \`npm ci\` first: it installs the pinned node@22.`)
  process.exit(2)
}

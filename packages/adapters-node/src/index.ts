/**
 * @oompa/adapters-node: the real layers for @oompa/core on Node.
 *
 * @since 0.1.0
 */
export {}

/**
 * The names oompa gives things in a repository, defined once: its config file, its state folder,
 * the folder agents write new tasks into, and the default task folder. The disk layer
 * (`@oompa/adapters-node`'s `RunPaths`) turns them into paths; the policy denies changes to them.
 *
 * @since 0.1.0
 */

/**
 * The config file oompa looks for, in the current folder then at the repository's top.
 *
 * @category constants
 * @since 0.1.0
 */
export const configFileName = "oompa.json"

/**
 * oompa's own folder at the top of the main worktree: runs, logs, the run lock. Never committed.
 *
 * @category constants
 * @since 0.1.0
 */
export const stateFolder = ".oompa"

/**
 * Where agents write new tasks, inside their own workspace (SPEC F2); never part of a change.
 *
 * @category constants
 * @since 0.1.0
 */
export const newTasksFolder = ".oompa-new-tasks"

/**
 * The task folder when `tasks_dir` is not set.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultTasksDir = "tasks"

/**
 * A run's log, inside its folder under `.oompa/runs/<id>/`.
 *
 * @category constants
 * @since 0.1.0
 */
export const runLogFile = "events.jsonl"

/** A run's HTML report, beside its log (`oompa view <run> --html`). @category constants @since 0.1.0 */
export const runReportFile = "report.html"

/** What `oompa sim calibrate` fitted from the runs, in `.oompa/` (`oompa sim plan` reads it). @category constants @since 0.1.0 */
export const calibrationFile = "calibration.json"

export { CliUsageError } from './args.js';
export { AUDIT_HELP, auditCommand } from './audit.js';
export { CANARY_HELP, canaryCommand, PrometheusError, prometheusSides } from './canary.js';
export { COMMAND_NAMES, mainHelp, runCli } from './cli.js';
export type { DriftFinding, DriftMetric, DriftReport, RunSample, SideSummary } from './drift.js';
export { compareSides, summarize } from './drift.js';
export type { ExitCode } from './exit-codes.js';
export { EXIT } from './exit-codes.js';
export type { FormatVerdictOptions } from './explain.js';
export { EXPLAIN_HELP, explainCommand, formatVerdict, jsonVerdict, parseJsonArgs } from './explain.js';
export type { GoldenAgent, GoldenContext, GoldenReport, GoldenRunResult } from './golden.js';
export { GOLDEN_HELP, GoldenAgentError, goldenCommand, loadAgent, runGoldenSuite } from './golden.js';
export type { AnswerCheck, GoldenConfig, GoldenExpect, GoldenSuite, GoldenTask, Thresholds } from './golden-suite.js';
export { DEFAULT_THRESHOLDS, loadGoldenConfig, loadGoldenSuite } from './golden-suite.js';
export type { CliIo, Writer } from './io.js';
export type { MineOptions, MineResult, PathStats } from './mine.js';
export { MINE_HELP, mineCommand, minePaths, readSummaries } from './mine.js';
export {
  APPROVALS_HELP,
  approvalsCommand,
  KILL_HELP,
  killCommand,
  REVIVE_HELP,
  reviveCommand,
} from './operator.js';
export type { PolicyFileResult } from './policy-file.js';
export { readPolicyFile } from './policy-file.js';
export type { JsonIssue } from './report.js';
export { formatIssues, jsonIssue } from './report.js';
export { REPORT_HELP, reportCommand } from './run-report.js';
export type { SkeletonOptions } from './skeleton.js';
export { generateWorkflow } from './skeleton.js';
export { summarizePolicy } from './summary.js';
export type { TimelinePageOptions } from './timeline-html.js';
export { renderTimelinePage } from './timeline-html.js';
export type { RunRecord, RunSummary, TimelineMark, ToolCallRecord } from './traces.js';
export { RunCollector, readJaegerTraces, readTraceFile, summarizeRun, TraceInputError, toolPath } from './traces.js';
export { VALIDATE_HELP, validateCommand } from './validate.js';
export { cliVersion } from './version.js';

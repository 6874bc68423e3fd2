import type { LogFields, Logger, LogLevel } from '../../src/log';

export interface LoggedLine {
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

/** A Logger that keeps its lines for a test to read. */
export class RecordingLogger implements Logger {
  readonly lines: LoggedLine[] = [];

  debug = (msg: string, fields: LogFields = {}): void => void this.lines.push({ level: 'debug', msg, fields });
  info = (msg: string, fields: LogFields = {}): void => void this.lines.push({ level: 'info', msg, fields });
  warn = (msg: string, fields: LogFields = {}): void => void this.lines.push({ level: 'warn', msg, fields });
  error = (msg: string, fields: LogFields = {}): void => void this.lines.push({ level: 'error', msg, fields });

  at(level: LogLevel): LoggedLine[] {
    return this.lines.filter((line) => line.level === level);
  }
}

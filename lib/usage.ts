/**
 * What a command prints for a usage mistake: the one thing that was wrong, and where the whole usage
 * is. Printing the whole usage after it would bury that line under a screen of options.
 */
export function usageMistake(command: string, problem: string): string {
  return `leakgate ${command}: ${problem} (leakgate ${command} --help shows the usage)`
}

// The subscription tables of RFC 6121 Appendix A.2 and A.3, laid out as in
// the RFC, so the tests check the code against the RFC's own rows.

export const A_2_1_OUTBOUND_SUBSCRIBE = `
   |  EXISTING STATE          |  ROUTE?  |  NEW STATE                 |
   |  "None"                  |  MUST    |  "None + Pending Out"      |
   |  "None + Pending Out"    |  MUST    |  no state change           |
   |  "None + Pending In"     |  MUST    |  "None + Pending Out+In"   |
   |  "None + Pending Out+In" |  MUST    |  no state change           |
   |  "To"                    |  MUST    |  no state change           |
   |  "To + Pending In"       |  MUST    |  no state change           |
   |  "From"                  |  MUST    |  "From + Pending Out"      |
   |  "From + Pending Out"    |  MUST    |  no state change           |
   |  "Both"                  |  MUST    |  no state change           |
`;

export const A_2_2_OUTBOUND_UNSUBSCRIBE = `
   |  EXISTING STATE          |  ROUTE?  |  NEW STATE                 |
   |  "None"                  |  MUST    |  no state change           |
   |  "None + Pending Out"    |  MUST    |  "None"                    |
   |  "None + Pending In"     |  MUST    |  no state change           |
   |  "None + Pending Out+In" |  MUST    |  "None + Pending In"       |
   |  "To"                    |  MUST    |  "None"                    |
   |  "To + Pending In"       |  MUST    |  "None + Pending In"       |
   |  "From"                  |  MUST    |  no state change           |
   |  "From + Pending Out"    |  MUST    |  "From"                    |
   |  "Both"                  |  MUST    |  "From"                    |
`;

export const A_2_3_OUTBOUND_SUBSCRIBED = `
   |  EXISTING STATE          |  ROUTE?   |  NEW STATE                |
   |  "None"                  |  MUST NOT |  pre-approval             |
   |  "None + Pending Out"    |  MUST NOT |  pre-approval             |
   |  "None + Pending In"     |  MUST     |  "From"                   |
   |  "None + Pending Out+In" |  MUST     |  "From + Pending Out"     |
   |  "To"                    |  MUST NOT |  pre-approval             |
   |  "To + Pending In"       |  MUST     |  "Both"                   |
   |  "From"                  |  MUST NOT |  no state change          |
   |  "From + Pending Out"    |  MUST NOT |  no state change          |
   |  "Both"                  |  MUST NOT |  no state change          |
`;

export const A_2_4_OUTBOUND_UNSUBSCRIBED = `
   |  EXISTING STATE          |  ROUTE?   |  NEW STATE                |
   |  "None"                  |  MUST NOT |  no state change          |
   |  "None + Pending Out"    |  MUST NOT |  no state change          |
   |  "None + Pending In"     |  MUST     |  "None"                   |
   |  "None + Pending Out+In" |  MUST     |  "None + Pending Out"     |
   |  "To"                    |  MUST NOT |  no state change          |
   |  "To + Pending In"       |  MUST     |  "To"                     |
   |  "From"                  |  MUST     |  "None"                   |
   |  "From + Pending Out"    |  MUST     |  "None + Pending Out"     |
   |  "Both"                  |  MUST     |  "To"                     |
`;

export const A_3_1_INBOUND_SUBSCRIBE = `
   |  EXISTING STATE          |  DELIVER?    |  NEW STATE             |
   |  "None"                  |  MUST [1]    |  "None + Pending In"   |
   |  "None + Pending Out"    |  MUST        |  "None + Pending Out+In" |
   |  "None + Pending In"     |  MUST NOT    |  no state change       |
   |  "None + Pending Out+In" |  MUST NOT    |  no state change       |
   |  "To"                    |  MUST        |  "To + Pending In"     |
   |  "To + Pending In"       |  MUST NOT    |  no state change       |
   |  "From"                  |  MUST NOT [2]|  no state change       |
   |  "From + Pending Out"    |  MUST NOT [2]|  no state change       |
   |  "Both"                  |  MUST NOT [2]|  no state change       |
`;

export const A_3_2_INBOUND_UNSUBSCRIBE = `
   |  EXISTING STATE          |  DELIVER?  |  NEW STATE               |
   |  "None"                  |  MUST NOT  |  no state change         |
   |  "None + Pending Out"    |  MUST NOT  |  no state change         |
   |  "None + Pending In"     |  MUST      |  "None"                  |
   |  "None + Pending Out+In" |  MUST      |  "None + Pending Out"    |
   |  "To"                    |  MUST NOT  |  no state change         |
   |  "To + Pending In"       |  MUST      |  "To"                    |
   |  "From"                  |  MUST      |  "None"                  |
   |  "From + Pending Out"    |  MUST      |  "None + Pending Out"    |
   |  "Both"                  |  MUST      |  "To"                    |
`;

export const A_3_3_INBOUND_SUBSCRIBED = `
   |  EXISTING STATE          |  DELIVER?  |  NEW STATE               |
   |  "None"                  |  MUST NOT  |  no state change         |
   |  "None + Pending Out"    |  MUST      |  "To"                    |
   |  "None + Pending In"     |  MUST NOT  |  no state change         |
   |  "None + Pending Out+In" |  MUST      |  "To + Pending In"       |
   |  "To"                    |  MUST NOT  |  no state change         |
   |  "To + Pending In"       |  MUST NOT  |  no state change         |
   |  "From"                  |  MUST NOT  |  no state change         |
   |  "From + Pending Out"    |  MUST      |  "Both"                  |
   |  "Both"                  |  MUST NOT  |  no state change         |
`;

export const A_3_4_INBOUND_UNSUBSCRIBED = `
   |  EXISTING STATE          |  DELIVER?  |  NEW STATE               |
   |  "None"                  |  MUST NOT  |  no state change         |
   |  "None + Pending Out"    |  MUST      |  "None"                  |
   |  "None + Pending In"     |  MUST NOT  |  no state change         |
   |  "None + Pending Out+In" |  MUST      |  "None + Pending In"     |
   |  "To"                    |  MUST      |  "None"                  |
   |  "To + Pending In"       |  MUST      |  "None + Pending In"     |
   |  "From"                  |  MUST NOT  |  no state change         |
   |  "From + Pending Out"    |  MUST      |  "From"                  |
   |  "Both"                  |  MUST      |  "From"                  |
`;

export interface TableRow {
  readonly existing: string;
  /** MUST (true) or MUST NOT (false) route / deliver. */
  readonly must: boolean;
  /** A quoted state, "no state change" or "pre-approval". */
  readonly next: string;
  readonly footnotes: readonly string[];
}

export function parseTable(table: string): TableRow[] {
  return table
    .split('\n')
    .filter((line) => line.trim().startsWith('|  "'))
    .map((line) => {
      const [existing = '', action = '', next = ''] = line
        .split('|')
        .slice(1, 4)
        .map((cell) => cell.trim());
      return {
        existing: existing.replace(/"/g, ''),
        must: !action.startsWith('MUST NOT'),
        next: next.replace(/"/g, ''),
        footnotes: [...action.matchAll(/\[(\d)\]/g)].map((m) => m[1] ?? ''),
      };
    });
}

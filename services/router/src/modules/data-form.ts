import { xml, type Element } from '@switchboard/xml';

export const DATA_FORMS_NS = 'jabber:x:data';

/** The fields of a XEP-0004 form: var → values, in order. */
export function formFields(x: Element | undefined): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  if (x === undefined) return fields;
  for (const field of x.getChildren('field')) {
    const name = field.attrs['var'];
    if (name === undefined) continue;
    fields.set(
      name,
      field.getChildren('value').map((v) => v.getText()),
    );
  }
  return fields;
}

/** The `<x xmlns='jabber:x:data'>` child of `parent`, if any. */
export function formOf(parent: Element | undefined): Element | undefined {
  return parent?.getChild('x', DATA_FORMS_NS);
}

/** A form of `type` with a hidden FORM_TYPE (XEP-0068) and single-valued fields. */
export function buildForm(
  type: 'form' | 'submit' | 'result',
  formType: string,
  fields: readonly (readonly [string, string])[],
): Element {
  return xml(
    'x',
    { xmlns: DATA_FORMS_NS, type },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, formType)),
    fields.map(([name, value]) => xml('field', { var: name }, xml('value', {}, value))),
  );
}

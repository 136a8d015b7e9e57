import { xml, type Element } from '@switchboard/xml';

/** XEP-0004 data forms, as much of them as registration and the commands need. */
export const NS_DATA = 'jabber:x:data';

export interface FormField {
  readonly var: string;
  readonly type: 'text-single' | 'text-private' | 'hidden' | 'fixed';
  readonly label?: string;
  readonly desc?: string;
  readonly required?: boolean;
  readonly value?: string;
}

export interface FormSpec {
  readonly title?: string;
  readonly instructions?: string;
  /** XEP-0068 FORM_TYPE, e.g. `jabber:iq:register` (XEP-0077 §5). */
  readonly formType?: string;
  readonly fields: readonly FormField[];
}

export function dataForm(spec: FormSpec): Element {
  return xml(
    'x',
    { xmlns: NS_DATA, type: 'form' },
    spec.title === undefined ? null : xml('title', {}, spec.title),
    spec.instructions === undefined ? null : xml('instructions', {}, spec.instructions),
    spec.formType === undefined
      ? null
      : xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, spec.formType)),
    ...spec.fields.map((field) =>
      xml(
        'field',
        { var: field.var, type: field.type, label: field.label },
        field.desc === undefined ? null : xml('desc', {}, field.desc),
        field.required === true ? xml('required') : null,
        field.value === undefined || field.value === '' ? null : xml('value', {}, field.value),
      ),
    ),
  );
}

/** The values of a submitted form (`type='submit'`) in `parent`; null when it holds none. */
export function submittedValues(parent: Element): ReadonlyMap<string, string> | null {
  const form = parent.getChildren('x', NS_DATA).find((x) => x.attrs['type'] === 'submit');
  if (form === undefined) return null;
  const values = new Map<string, string>();
  for (const field of form.getChildren('field')) {
    const name = field.attrs['var'];
    if (name === undefined || name === 'FORM_TYPE') continue;
    values.set(
      name,
      field
        .getChildren('value')
        .map((v) => v.getText())
        .join('\n'),
    );
  }
  return values;
}

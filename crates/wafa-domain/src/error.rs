//! Stable, machine-readable error codes with Arabic and English messages.
//!
//! Why: API clients (and merchants' own scripts) branch on `code`, never on the message, so a
//! code, once published, never changes meaning. Messages are for people and come in both of
//! the product's languages. The HTTP status is part of the code's contract too.

use serde::Serialize;

macro_rules! error_codes {
    ($( $variant:ident => ($code:literal, $status:literal, $en:literal, $ar:literal) ),+ $(,)?) => {
        /// Every error Wafa reports. See [`ErrorCode::as_str`] for the wire form.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $( $variant ),+ }

        impl ErrorCode {
            /// All codes, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant ),+ ];
            /// The stable wire code, e.g. `invalid_phone`.
            pub fn as_str(self) -> &'static str { match self { $( ErrorCode::$variant => $code ),+ } }
            /// The HTTP status this code is reported with.
            pub fn http_status(self) -> u16 { match self { $( ErrorCode::$variant => $status ),+ } }
            /// A short English message.
            pub fn message_en(self) -> &'static str { match self { $( ErrorCode::$variant => $en ),+ } }
            /// A short Arabic message.
            pub fn message_ar(self) -> &'static str { match self { $( ErrorCode::$variant => $ar ),+ } }
        }
    };
}

error_codes! {
    BadRequest => ("bad_request", 400, "The request is malformed.", "الطلب غير صالح."),
    InvalidJson => ("invalid_json", 400, "The request body is not valid JSON for this endpoint.", "محتوى الطلب ليس JSON صالحًا لهذه الواجهة."),
    ValidationFailed => ("validation_failed", 422, "A field has an invalid value.", "أحد الحقول يحتوي على قيمة غير صالحة."),
    InvalidPhone => ("invalid_phone", 422, "The phone number is not valid.", "رقم الجوال غير صالح."),
    InvalidEmail => ("invalid_email", 422, "The email address is not valid.", "البريد الإلكتروني غير صالح."),
    InvalidCurrency => ("invalid_currency", 422, "Unknown currency code (use ISO 4217, e.g. SAR).", "رمز العملة غير معروف (استخدم ISO 4217 مثل SAR)."),
    InvalidAmount => ("invalid_amount", 422, "The amount is not valid for its currency.", "المبلغ غير صالح لهذه العملة."),
    InvalidQuantity => ("invalid_quantity", 422, "Quantities must be positive whole numbers.", "يجب أن تكون الكمية عددًا صحيحًا موجبًا."),
    InvalidStatusTransition => ("invalid_status_transition", 409, "The order cannot move to that status from its current one.", "لا يمكن نقل الطلب إلى هذه الحالة من حالته الحالية."),
    InvalidCursor => ("invalid_cursor", 400, "The pagination cursor is not valid.", "مؤشر الصفحات غير صالح."),
    PayloadTooLarge => ("payload_too_large", 413, "The request body is too large.", "حجم الطلب كبير جدًا."),
    UnsupportedMediaType => ("unsupported_media_type", 415, "Send the body as application/json.", "أرسل المحتوى بصيغة application/json."),
    Unauthenticated => ("unauthenticated", 401, "Sign in or send a valid API key.", "سجّل الدخول أو أرسل مفتاح API صالحًا."),
    InvalidCredentials => ("invalid_credentials", 401, "Wrong email or password.", "البريد الإلكتروني أو كلمة المرور غير صحيحة."),
    Forbidden => ("forbidden", 403, "Your role or key does not allow this.", "صلاحياتك أو مفتاحك لا يسمح بهذا الإجراء."),
    NotFound => ("not_found", 404, "Not found.", "غير موجود."),
    Conflict => ("conflict", 409, "This conflicts with existing data.", "يتعارض هذا مع بيانات موجودة."),
    DuplicateExternalId => ("duplicate_external_id", 409, "Another record already uses this external id.", "هناك سجل آخر يستخدم هذا المعرّف الخارجي."),
    DuplicateIdentity => ("duplicate_identity", 409, "Another customer already has this email or phone.", "هناك عميل آخر لديه هذا البريد أو الجوال."),
    ConsentConflict => ("consent_conflict", 409, "The two customers' consents conflict; choose which consent to keep.", "موافقات العميلين متعارضة؛ اختر الموافقة التي تريد الاحتفاظ بها."),
    AlreadyMerged => ("already_merged", 409, "This customer was merged into another.", "تم دمج هذا العميل في عميل آخر."),
    MergeNotUndoable => ("merge_not_undoable", 409, "This merge was already undone or cannot be undone.", "تم التراجع عن هذا الدمج مسبقًا أو لا يمكن التراجع عنه."),
    EmailTaken => ("email_taken", 409, "A user with this email already exists.", "يوجد مستخدم بهذا البريد الإلكتروني."),
    CsvInvalidHeader => ("csv_invalid_header", 422, "The CSV header does not match a supported format.", "ترويسة ملف CSV لا تطابق صيغة مدعومة."),
    CsvInvalidEncoding => ("csv_invalid_encoding", 422, "The file's text encoding could not be read.", "تعذّر قراءة ترميز نص الملف."),
    RateLimited => ("rate_limited", 429, "Too many attempts; try again later.", "محاولات كثيرة؛ حاول لاحقًا."),
    Internal => ("internal", 500, "Something went wrong on our side. Nothing was changed.", "حدث خطأ من جهتنا. لم يتم تغيير أي شيء."),
    Unavailable => ("unavailable", 503, "The service is starting or its database is unreachable.", "الخدمة قيد التشغيل أو قاعدة البيانات غير متاحة."),
}

/// A failed rule: the code, which field (if any) and a detail for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct DomainError {
    pub code: ErrorCode,
    pub field: Option<String>,
    pub detail: String,
}

impl DomainError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        DomainError {
            code,
            field: None,
            detail: detail.into(),
        }
    }
    pub fn field(code: ErrorCode, field: impl Into<String>, detail: impl Into<String>) -> Self {
        DomainError {
            code,
            field: Some(field.into()),
            detail: detail.into(),
        }
    }
    /// Prefix the field path, e.g. `phone` → `identities[2].phone`.
    pub fn at(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(f) => format!("{prefix}.{f}"),
            None => prefix.to_owned(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_messages_present() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert!(!c.message_en().is_empty() && !c.message_ar().is_empty());
            assert!((400..600).contains(&c.http_status()));
            // serde name equals the wire code
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}

//! Mail through Amazon SES (`aws-sdk-sesv2` `SendEmail`), configured like Secrets Manager
//! from the environment Lambda gives the function (no aws-config), over the same HTTP
//! client. Only the functions that send mail link it.

use std::future::Future;
use std::pin::Pin;

use crate::aws::AwsEnvironment;
use crate::config::ConfigError;
use crate::mail::{Mail, Mailer};
use anyhow::Context as _;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
}

impl SesMailer {
    /// A client from `AWS_REGION`, the role's credentials, and `AWS_ENDPOINT_URL_SESV2` or
    /// `AWS_ENDPOINT_URL` when set.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = AwsEnvironment::from_lookup(lookup, crate::config::vars::AWS_ENDPOINT_URL_SESV2)?;
        Ok(Self {
            client: aws_sdk_sesv2::Client::new(&env.sdk_config()),
        })
    }
}

fn content(text: &str) -> anyhow::Result<Content> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .context("mail content")
}

impl Mailer for SesMailer {
    fn send<'a>(
        &'a self,
        mail: &'a Mail,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>> {
        Box::pin(async move {
            let message = Message::builder()
                .subject(content(&mail.subject)?)
                .body(
                    Body::builder()
                        .text(content(&mail.text)?)
                        .html(content(&mail.html)?)
                        .build(),
                )
                .build();
            self.client
                .send_email()
                .from_email_address(&mail.from)
                .destination(Destination::builder().to_addresses(&mail.to).build())
                .content(EmailContent::builder().simple(message).build())
                .send()
                .await
                .map_err(|err| anyhow::anyhow!("SES SendEmail: {}", DisplayErrorContext(&err)))?;
            Ok(())
        })
    }
}
